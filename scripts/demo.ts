/**
 * `npm run demo`: the whole product on loopback with a temporary database — the service, an
 * SMSC simulator and an Asterisk simulator — and a scripted story told in the terminal: a call
 * that checks the status and arms, an SMS command, a disarm confirmed with the SMS code, an
 * alarm with its SMS and an acknowledged call-out, a night disarm held for a confirmation
 * call-back and confirmed with key 1, a disarm with the duress code that raises a silent
 * alarm, and a burglary reported by an alarm panel over SIA DC-09 (SMS and call-out). Exits
 * non-zero if any step does not happen, or if the service logged an error. Cleans up after itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import manifest from '../prompts/manifest.json' with { type: 'json' };
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startService } from '../src/main.ts';
import { PanelSimulator } from '../test/sim/panel.ts';
import { AsteriskSim } from '../test/sim/asterisk.ts';
import type { SimCall } from '../test/sim/asterisk.ts';
import { SmscSim } from '../test/sim/smsc.ts';

const texts = (manifest as { prompts: Record<string, Record<string, string>> }).prompts;
const say = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};
const wait = async <T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 15_000): Promise<T> => {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`the demo waited in vain for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const dir = mkdtempSync(join(tmpdir(), 'zhedel-demo-'));
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    cb();
  },
});
const PHONE = '+77015551234';
const smsc = await SmscSim.start({ systemId: 'zhedel', password: 'secret', behaviour: { autoReceiptMs: 50 } });
const asterisk = await AsteriskSim.start({ user: 'zhedel', password: 'secret', playbackMs: 20 });
asterisk.onOriginate = () => ({ kind: 'answer', afterMs: 100 });
const config = loadConfig({
  ZHEDEL_DB: join(dir, 'zhedel.db'), ZHEDEL_SECRET: 'demo-secret-'.repeat(4), ZHEDEL_HTTP_PORT: '0', ZHEDEL_LOG_LEVEL: 'info',
  ZHEDEL_SMPP_URL: smsc.url, ZHEDEL_SMPP_SYSTEM_ID: 'zhedel', ZHEDEL_SMPP_PASSWORD: 'secret',
  ZHEDEL_ARI_URL: asterisk.url, ZHEDEL_ARI_USER: 'zhedel', ZHEDEL_ARI_PASSWORD: 'secret',
  ZHEDEL_AMI_PORT: '1', ZHEDEL_MONITORING_KEY: 'demo-monitoring-key', ZHEDEL_CALLOUT_PAUSE_S: '1',
  ZHEDEL_DC09_PORT: '0', ZHEDEL_DC09_HOST: '127.0.0.1',
});
// The story happens at night: the service runs on a clock set to 03:12 today in Almaty (UTC+5),
// so that the company's night rule (23:00–06:00) holds the disarm in step 5.
const offsetMs = (() => {
  const now = new Date();
  const target = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 22, 12) - 86_400_000; // 03:12 in Almaty
  return target - now.getTime();
})();
const svc = await startService(config, createLogger('info', logSink), { clock: { now: () => new Date(Date.now() + offsetMs) } });
let failed = false;

const heard = new Map<SimCall, number>();
const listen = (call: SimCall, who = 'robot'): void => {
  for (let i = heard.get(call) ?? 0; i < call.prompts.length; i++) {
    const [lang, id] = (call.prompts[i] as string).split('/') as [string, string];
    say(`    ${who} (${lang}): ${texts[id]?.[lang] ?? id}`);
  }
  heard.set(call, call.prompts.length);
};
const untilPrompt = async (call: SimCall, id: string): Promise<void> => {
  await call.waitForPrompt(id, 30_000, heard.get(call) ?? 0);
  listen(call);
};
const press = async (call: SimCall, keys: string, why: string): Promise<void> => {
  say(`    caller presses ${keys}  (${why})`);
  await call.press(keys, { gapMs: 60 });
};
let smsSeen = 0;
const newSms = (): string[] => {
  const all = smsc.textsTo(PHONE);
  const fresh = all.slice(smsSeen);
  smsSeen = all.length;
  return fresh;
};
const phoneSends = (text: string): void => {
  say(`    phone ${PHONE} sends SMS: ${text}`);
  smsc.sendMo({ from: PHONE.slice(1), text });
};

try {
  if (!(await svc.telephony.link.whenConnected(30_000))) throw new Error('the robot did not connect to the Asterisk simulator');
  await wait('the SMSC bind', () => smsc.boundCount > 0);
  const { core } = svc.ctx;
  say('ZHEDEL ONLINE demo: service, SMSC simulator and Asterisk simulator on 127.0.0.1, temporary database.');
  say();
  const client = await core.addClient({ name: 'Асель Нурланова', lang: 'ru', balance: 500_000, operator: 'demo' });
  await core.addObject({ clientId: client.id, code: '4021', address: 'Алматы, Достык 5', calloutEnabled: true, operator: 'demo' });
  await core.addNumber({ clientId: client.id, phone: PHONE, signed: true, operator: 'demo' });
  say(`Seeded: client ${client.id} "${client.name}", object 4021 (Алматы, Достык 5, call-outs on), trusted number ${PHONE}.`);
  say();

  say('1. The client calls the robot from 8 701 555 12 34, hears the status and arms.');
  const call = asterisk.call({ number: '87015551234' });
  await untilPrompt(call, 'main-menu');
  await press(call, '1', 'arm');
  await untilPrompt(call, 'confirm-arm');
  await press(call, '1', 'confirm');
  await untilPrompt(call, 'armed-ok');
  await press(call, '9', 'goodbye');
  await call.waitForEnd(30_000);
  listen(call);
  if ((await core.getObject('4021')).status !== 'armed') throw new Error('the object was not armed');
  say();

  say('2. An SMS command from the trusted number.');
  phoneSends('СТАТУС');
  const status = await wait('the status reply', () => newSms()[0]);
  say(`    SMS to the phone: ${status}`);
  say();

  say('3. Disarm by SMS, confirmed with the code sent back by SMS.');
  phoneSends('СНЯТЬ 4021');
  const got: string[] = [];
  await wait('the code and its notice', () => {
    got.push(...newSms());
    return got.length >= 2;
  });
  for (const t of got) say(`    SMS to the phone: ${t}`);
  const code = /Код (\d{6})/.exec(got.join('\n'))?.[1];
  if (!code) throw new Error('no code arrived');
  phoneSends(code);
  const done = await wait('the disarm reply', () => newSms()[0]);
  say(`    SMS to the phone: ${done}`);
  if ((await core.getObject('4021')).status !== 'disarmed') throw new Error('the object was not disarmed');
  say();

  say('4. The monitoring centre reports a burglary in zone 3.');
  await core.operatorRequest({ action: 'arm', objectCode: '4021', operator: 'demo' });
  const res = await fetch(`${svc.address}/v1/monitoring/events`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'demo-monitoring-key' },
    body: JSON.stringify({ id: 'mc-demo-1', object: '4021', type: 'alarm', kind: 'burglary', zone: 3 }),
  });
  say(`    POST /v1/monitoring/events → ${res.status}`);
  const alarm = await wait('the alarm SMS', () => newSms().find((t) => t.startsWith('ТРЕВОГА')));
  say(`    SMS to the phone: ${alarm}`);
  const callee = await wait('the call-out', () => asterisk.answered[0]);
  say(`    the robot calls ${PHONE} back; the client answers:`);
  await untilPrompt(callee, 'alarm-press-1');
  await press(callee, '1', 'acknowledge');
  await untilPrompt(callee, 'alarm-acknowledged');
  await wait('the acknowledgement in the journal', async () => (await core.searchJournal({ action: 'alarm-ack', limit: 1 }))[0]);
  say(`    object 4021 is now: ${(await core.getObject('4021')).status}`);
  say();

  say('5. Night (03:12): the company\'s rule holds a disarm for a confirmation call-back to the trusted number.');
  await core.setCompanyRules({ rules: { callback: { windows: [{ from: '23:00', to: '06:00' }] } }, operator: 'demo admin' });
  say('    admin: zhedel policy set --windows 23:00-06:00  (a disarm between 23:00 and 06:00 waits for a call-back)');
  await core.operatorRequest({ action: 'arm', objectCode: '4021', operator: 'demo' });
  newSms();
  phoneSends('СНЯТЬ 4021');
  const nightCode = await wait('the night code', () => newSms().map((t) => /Код (\d{6})/.exec(t)?.[1]).find(Boolean));
  say(`    SMS to the phone: Код ${nightCode}: …`);
  phoneSends(nightCode);
  const heldReply = await wait('the held reply', () => newSms().find((t) => t.startsWith('Запрос принят')));
  say(`    SMS to the phone: ${heldReply}`);
  say(`    object 4021 is still: ${(await core.getObject('4021')).status}`);
  const back = await wait('the confirmation call-back', () => asterisk.answered.find((c) => c.prompts.some((p) => p.endsWith('/confirm-intro'))));
  say(`    the robot calls ${PHONE} back; the client answers:`);
  await untilPrompt(back, 'confirm-press');
  await press(back, '1', 'confirm');
  await untilPrompt(back, 'confirm-done');
  const outcome = await wait('the outcome SMS', () => newSms().find((t) => t.startsWith('Подтверждено')));
  say(`    SMS to the phone: ${outcome}`);
  await wait('the disarm', async () => (await core.getObject('4021')).status === 'disarmed');
  say(`    object 4021 is now: ${(await core.getObject('4021')).status}`);
  say();

  say('6. Under duress: the client, forced to disarm, types the duress code instead of the SMS code.');
  await core.setDuressCode({ clientId: client.id, code: '7390', signed: true, operator: 'demo' });
  say('    (set earlier at the office from the client\'s signed application: zhedel duress set --client 1 --code 7390 --signed)');
  await core.operatorRequest({ action: 'arm', objectCode: '4021', operator: 'demo' });
  const forced = asterisk.call({ number: '87015551234' });
  await untilPrompt(forced, 'main-menu');
  await press(forced, '2', 'disarm');
  await untilPrompt(forced, 'code-sent');
  await press(forced, '7390#', 'the duress code');
  await untilPrompt(forced, 'disarmed-ok');
  await press(forced, '9', 'goodbye');
  await forced.waitForEnd(30_000);
  listen(forced);
  say(`    object 4021 is now: ${(await core.getObject('4021')).status} — to whoever watches, a normal disarm`);
  const duress = await wait('the silent alarm', async () => (await core.listAlerts()).find((a) => a.kind === 'duress'));
  say(`    operators' console, silently: alert #${duress.id} ${duress.kind}: ${duress.detail ?? ''}`);
  const after = newSms().filter((t) => !/^Код \d{6}/.test(t));
  say(`    SMS to the phone besides the code: ${after.length === 0 ? 'none' : after.join(' | ')}`);
  if (after.length > 0) throw new Error('the duress disarm sent something to the client');
  say();

  say('7. The shop\'s alarm panel reports straight to the service over SIA DC-09 (encrypted Contact ID).');
  const panelKey = '000102030405060708090a0b0c0d0e0f';
  await core.addObject({
    clientId: client.id, code: '4711', address: 'Алматы, Абая 10', calloutEnabled: true, operator: 'demo', panel: { account: '4711', key: panelKey },
  });
  say(`    (installed: zhedel object add --client ${client.id} --code 4711 --address "Алматы, Абая 10" --callout --panel-account 4711 --dc09-key - ;`);
  say(`     the panel is set to report to the receiver on port ${svc.panels!.address().port}, account 4711, AES-128)`);
  // the panel's clock is set from the receiver's (the demo's night hour)
  const panel = new PanelSimulator({ host: '127.0.0.1', port: svc.panels!.address().port, transport: 'tcp', account: '4711', key: panelKey });
  const frame = async (token: 'NULL' | 'ADM-CID', data: string | undefined, what: string): Promise<void> => {
    const reply = await panel.send({ token, ...(data ? { data } : {}), clockSkewMs: offsetMs });
    say(`    panel → *${token} ${data ?? ''}  (${what})  ← ${reply.encrypted ? '*' : ''}${reply.token}`);
    if (reply.token !== 'ACK') throw new Error(`the receiver answered ${reply.token}`);
  };
  await frame('NULL', undefined, 'link test');
  await frame('ADM-CID', '#4711|3401 01 002', 'closing by user 2');
  say(`    object 4711 is now: ${(await core.getObject('4711')).status}`);
  const calledBefore = asterisk.answered.length;
  newSms();
  await frame('ADM-CID', '#4711|1130 01 003', 'burglary, zone 3');
  const panelAlarm = await wait('the panel\'s alarm SMS', () => newSms().find((t) => t.startsWith('ТРЕВОГА 4711')));
  say(`    SMS to the phone: ${panelAlarm}`);
  const rung = await wait('the call-out for the panel\'s alarm', () => asterisk.answered[calledBefore]);
  say(`    the robot calls ${PHONE}; the client answers:`);
  await untilPrompt(rung, 'alarm-press-1');
  await press(rung, '1', 'acknowledge');
  await untilPrompt(rung, 'alarm-acknowledged');
  await wait('the panel alarm\'s acknowledgement in the journal', async () => (await core.searchJournal({ action: 'alarm-ack', objectCode: '4711', limit: 1 }))[0]);
  await panel.close();
  say(`    object 4711 is now: ${(await core.getObject('4711')).status}`);
  for (const r of (await core.searchJournal({ channel: 'panel', limit: 10 })).reverse()) {
    say(`    journal #${r.seq} ${r.channel} ${r.action} ${r.outcome}${r.reason ? ` (${r.reason})` : ''}, auth ${r.auth}: ${r.detail ?? ''}`);
  }
  say();

  say('The journal of electronic documents:');
  for (const r of (await core.searchJournal({ limit: 100 })).reverse()) {
    say(`    #${String(r.seq).padStart(2)} ${r.channel.padEnd(10)} ${r.action.padEnd(14)} ${r.outcome}${r.reason ? ` (${r.reason})` : ''}, auth ${r.auth}`);
  }
  const v = await core.verifyJournal();
  say(`Journal verification: ${v.ok ? `intact, ${v.checked} records` : 'BROKEN'}`);
  if (!v.ok) throw new Error('journal broken');
  const states = (await core.listOutbox({ limit: 100 })).map((m) => m.state);
  await wait('delivery receipts', async () => (await core.listOutbox({ limit: 100 })).every((m) => m.state === 'delivered'), 30_000);
  say(`SMS sent: ${states.length}, all delivered.`);
} catch (e) {
  failed = true;
  say(`DEMO FAILED: ${(e as Error).message}`);
} finally {
  await svc.stop('demo finished');
  await asterisk.close();
  await smsc.close();
  rmSync(dir, { recursive: true, force: true });
}
const errors = logLines.filter((l) => /"level":(50|60)/.test(l));
say(`Service log: ${logLines.length} lines, ${errors.length} at error level.`);
for (const l of errors) say(`    ${l}`);
say(failed || errors.length ? 'Demo: FAILED' : 'Demo: OK');
process.exit(failed || errors.length ? 1 : 0);
