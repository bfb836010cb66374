/**
 * `npm run call-demo`: a scripted call to the phone robot against the Asterisk simulator on
 * loopback, with a temporary database. Prints what the caller heard (the prompts' text) and
 * what they pressed: status, arm, disarm confirmed with the code from the SMS. Cleans up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import manifest from '../prompts/manifest.json' with { type: 'json' };
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { createLogger } from '../src/logger.ts';
import { openDb } from '../src/store/db.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { Telephony } from '../src/telephony/service.ts';
import { AsteriskSim } from '../test/sim/asterisk.ts';
import type { SimCall } from '../test/sim/asterisk.ts';

const texts = (manifest as { prompts: Record<string, Record<string, string>> }).prompts;
const dir = mkdtempSync(join(tmpdir(), 'zhedel-call-demo-'));
const db = openDb(join(dir, 'demo.db'));
const core = new Core({ store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys('demo-secret-'.repeat(4)), timeZone: 'Asia/Almaty' });
const sim = await AsteriskSim.start({ playbackMs: 30 });
const tel = new Telephony({
  url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', calloutEndpoint: 'PJSIP/{number}@trunk',
  core, clock: systemClock, timeZone: 'Asia/Almaty', logger: createLogger('silent'),
});

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
let heard = 0;
function listen(call: SimCall): void {
  while (heard < call.prompts.length) {
    const [lang, id] = (call.prompts[heard++] as string).split('/') as [string, string];
    say(`  robot (${lang}): ${texts[id]?.[lang] ?? id}`);
  }
}
async function until(call: SimCall, id: string): Promise<void> {
  await call.waitForPrompt(id, 30_000, heard);
  listen(call);
}
async function press(call: SimCall, keys: string, why: string): Promise<void> {
  say(`  caller presses ${keys}   (${why})`);
  await call.press(keys, { gapMs: 40 });
}

try {
  tel.start();
  if (!(await tel.link.whenConnected(30_000))) throw new Error('the robot did not connect to the Asterisk simulator');
  const c = await core.addClient({ name: 'Асель Нурланова', lang: 'ru', operator: 'demo' });
  await core.addObject({ clientId: c.id, code: '4021', address: 'Алматы, Достык 5', operator: 'demo' });
  await core.addNumber({ clientId: c.id, phone: '+77015551234', signed: true, operator: 'demo' });
  say('A client calls from 8 701 555 12 34 (object 4021, disarmed).');
  const call = sim.call({ number: '87015551234' });
  await until(call, 'main-menu');
  await press(call, '1', 'arm');
  await until(call, 'confirm-arm');
  await press(call, '1', 'confirm');
  await until(call, 'main-menu');
  await press(call, '2', 'disarm');
  await until(call, 'code-sent');
  const sms = (await core.listOutbox({ limit: 1, reveal: true }))[0]?.text ?? '';
  say(`  SMS to +77015551234: ${sms}`);
  const code = /(\d{6})/.exec(sms)?.[1] ?? '';
  await press(call, `${code}#`, 'the code from the SMS');
  await until(call, 'main-menu');
  await press(call, '9', 'goodbye');
  await call.waitForEnd(30_000);
  listen(call);
  say(`Call ended. Object 4021 is now ${(await core.getObject('4021')).status}.`);
  say('Journal:');
  for (const r of (await core.searchJournal({ limit: 20 })).reverse()) {
    say(`  #${r.seq} ${r.channel} ${r.action} ${r.outcome}${r.reason ? ` (${r.reason})` : ''} auth=${r.auth}`);
  }
  say(`Journal verification: ${(await core.verifyJournal()).ok ? 'intact' : 'BROKEN'}`);
} finally {
  await tel.stop(1_000);
  await sim.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
