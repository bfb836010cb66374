import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Access } from '../../src/core/access.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub } from '../../src/main.ts';
import { Telephony } from '../../src/telephony/service.ts';
import { AsteriskSim } from '../sim/asterisk.ts';
import type { SimCall } from '../sim/asterisk.ts';
import { makeFixture, seedClient, TEST_SECRET } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { findSecrets } from '../support/log-hygiene.ts';
import { quietLogger, smsHarness, until } from '../support/sms-harness.ts';
import type { SmsHarness } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const PHONE = '+77011234567';
const DURESS = '73915';

function fixture(hub?: EventHub): Fixture {
  const fx = makeFixture({ realClock: true, ...(hub ? { events: hub } : {}) });
  cleanups.push(() => fx.close());
  return fx;
}

async function harness(fx: Fixture): Promise<SmsHarness> {
  const h = await smsHarness(fx);
  cleanups.push(() => h.close());
  await h.sim.waitFor(() => h.sim.boundCount === 1, 5_000, 'bind');
  return h;
}

/** A client with object 1234, armed, and a duress code set from a signed application. */
async function seeded(fx: Fixture, lang: 'ru' | 'kk' = 'ru'): Promise<number> {
  const { clientId } = await seedClient(fx, { lang });
  await fx.core.setDuressCode({ clientId, code: DURESS, signed: true, operator: 'op' });
  await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
  return clientId;
}

async function rearm(fx: Fixture): Promise<void> {
  await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
  expect((await fx.core.getObject('1234')).status).toBe('armed');
}

/** What only operators see of a duress code: the 'duress' record, its alert, the alert's record. */
async function expectSilentAlarm(fx: Fixture, channel: string, times = 1): Promise<void> {
  const alerts = (await fx.core.listAlerts(false)).filter((a) => a.kind === 'duress');
  expect(alerts).toHaveLength(times);
  expect(alerts[0]).toMatchObject({ objectCode: '1234', phone: PHONE });
  const records = await fx.core.searchJournal({ action: 'duress' });
  expect(records).toHaveLength(times);
  expect(records[0]).toMatchObject({ channel, objectCode: '1234', phone: PHONE, outcome: 'accepted' });
  // the record sits next to the disarm it belongs to, which looks like any other
  const disarm = (await fx.core.searchJournal({ action: 'disarm', outcome: 'executed' }))[0];
  expect(disarm).toMatchObject({ channel, auth: 'otp', challengeId: records[0]?.challengeId, reason: null });
  expect(records[0]?.seq).toBe((disarm?.seq ?? 0) + 1);
  expect(fx.events.filter((e) => e.type === 'operator-alert' && e.kind === 'duress')).toHaveLength(times);
}

/** Every SMS the outbox ever held for the client's number: the only way out to the SMSC. */
async function outboxKinds(fx: Fixture): Promise<string[]> {
  return (await fx.core.listOutbox({ limit: 1000 })).filter((m) => m.phone === PHONE).map((m) => m.kind).reverse();
}

describe('duress code on the phone robot (Asterisk simulator)', () => {
  it('the caller hears "disarmed" as for the real code; the object is disarmed; operators alerted; no SMS or call to the client', async () => {
    const fx = fixture();
    const h = await harness(fx);
    const sim = await AsteriskSim.start({ playbackMs: 5 });
    cleanups.push(() => sim.close());
    const tel = new Telephony({
      url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', calloutEndpoint: 'PJSIP/{number}@trunk',
      core: fx.core, clock: fx.clock, timeZone: 'Asia/Almaty', logger: quietLogger,
      timings: { firstDigitMs: 400, interDigitMs: 250, playbackLimitMs: 600 }, retryDelaysMs: [100, 200],
    });
    tel.start();
    cleanups.push(() => tel.stop(500));
    await until(() => tel.link.isConnected(), 5_000, 'ARI connected');
    await seeded(fx);

    /** A call that disarms with what `typed` gives; the prompts from the code on. */
    const disarmCall = async (typed: (code: string) => string, codeSmsCount: number): Promise<string[]> => {
      const call: SimCall = sim.call({ number: '87011234567' });
      await call.waitForPrompt('main-menu', 5_000);
      const n = call.prompts.length;
      await call.press('2');
      await call.waitForPrompt('code-sent', 5_000, n);
      const sms = await h.sim.waitFor(() => {
        const codes = h.sim.textsTo('77011234567').filter((t) => /^Код \d{6}/.test(t));
        return codes.length === codeSmsCount ? codes : null;
      }, 5_000, 'the code SMS at the SMSC');
      const code = /^Код (\d{6})/.exec(sms.at(-1) as string)?.[1] as string;
      const m = call.prompts.length;
      await call.press(`${typed(code)}#`, { gapMs: 20 });
      await call.waitForPrompt('disarmed-ok', 5_000, m);
      await call.waitForPrompt('main-menu', 5_000, m);
      const heard = call.prompts.slice(m).map((p) => p.split('/')[1] ?? p);
      call.hangup();
      await call.waitForEnd();
      return heard;
    };

    const real = await disarmCall((code) => code, 1);
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    await rearm(fx);
    const duress = await disarmCall(() => DURESS, 2);
    expect(duress).toEqual(real);
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect(fx.events.filter((e) => e.type === 'object-status' && e.status === 'disarmed').map((e) => e.type === 'object-status' && e.cause)).toEqual(['disarm', 'disarm']);
    await expectSilentAlarm(fx, 'phone');

    // the client's number got the two code SMS and nothing else: no alarm SMS, notice or call-out
    expect(await outboxKinds(fx)).toEqual(['otp', 'otp']);
    await until(async () => (await fx.core.listOutbox({ limit: 10 })).every((m) => m.state !== 'queued' && m.state !== 'sending'), 5_000, 'outbox settled');
    expect(h.sim.textsTo('77011234567')).toHaveLength(2);
    expect(sim.originated).toEqual([]);
    expect(await fx.core.takeCallouts()).toEqual([]);
    // the duress code was never a wrong code
    expect(await fx.core.searchJournal({ action: 'confirm', outcome: 'refused' })).toEqual([]);
  });
});

describe('duress code by SMS (SMSC simulator)', () => {
  it('the reply to the duress code is the reply to the real code; operators alerted; nothing else sent', async () => {
    const fx = fixture();
    const h = await harness(fx);
    await seeded(fx, 'kk');
    const texts = (): string[] => h.sim.textsTo('77011234567');
    /** "АЛУ" (answered "a code was sent") and the code SMS, then what `typed` gives; the reply to it. */
    const disarmBySms = async (typed: (code: string) => string, round: number): Promise<string> => {
      h.sim.sendMo({ from: '77011234567', text: 'АЛУ 1234' });
      await h.sim.waitFor(() => texts().length === 3 * round - 1, 5_000, 'the answer and the code SMS');
      const code = texts().map((t) => /^Код (\d{6})/.exec(t)?.[1]).filter(Boolean).at(-1) as string;
      h.sim.sendMo({ from: '77011234567', text: typed(code) });
      return h.sim.waitFor(() => (texts().length === 3 * round ? texts().at(-1) : undefined), 5_000, 'reply');
    };
    const real = await disarmBySms((code) => code, 1);
    expect(real).toBe('1234 нысаны күзеттен алынды.');
    await rearm(fx);
    const duress = await disarmBySms(() => DURESS, 2);
    expect(duress).toBe(real);
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    await expectSilentAlarm(fx, 'sms');
    // two rounds of: the answer to АЛУ, the code, the answer to the code; nothing else
    expect((await outboxKinds(fx)).sort()).toEqual(['otp', 'otp', 'reply', 'reply', 'reply', 'reply']);
    await until(async () => (await fx.core.listOutbox({ limit: 10 })).every((m) => m.state !== 'queued' && m.state !== 'sending'), 5_000, 'outbox settled');
    expect(texts()).toHaveLength(6);
  });
});

interface Rig {
  fx: Fixture;
  app: FastifyInstance;
  url: string;
  logs: string[];
  operator: string;
}

async function httpRig(): Promise<Rig> {
  const hub = new EventHub();
  const fx = fixture(hub);
  const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core });
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const app = await buildApp({
    logger: createLogger('info', sink), checks: [], core: fx.core, access, hub, metrics: fx.admin.metrics(), watchMs: 100, rateLimitPerMinute: 0,
  });
  cleanups.push(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const operator = (await access.addOperator({ name: 'Operator Dias', role: 'operator' })).token;
  return { fx, app, url, logs, operator };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(r: Rig, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${r.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

async function signIn(r: Rig, channel: 'app' | 'chat'): Promise<string> {
  expect((await call(r, 'POST', '/v1/auth/otp', undefined, { phone: '87011234567', channel })).status).toBe(202);
  const v = await call(r, 'POST', '/v1/auth/verify', undefined, { phone: '87011234567', code: await r.fx.lastCode(PHONE), channel });
  expect(v.status).toBe(200);
  return v.body.token as string;
}

interface EventStream {
  text(): string;
  count(needle: string): number;
  untilCount(needle: string, n: number): Promise<void>;
  until(needle: string): Promise<void>;
}

/** An event stream read as it comes. */
async function stream(r: Rig, path: string, token: string): Promise<EventStream> {
  const ctl = new AbortController();
  cleanups.push(() => ctl.abort());
  const res = await fetch(`${r.url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const count = (needle: string): number => text.split(needle).length - 1;
  const untilCount = async (needle: string, n: number): Promise<void> => {
    const timer = setTimeout(() => ctl.abort(), 5_000);
    try {
      while (count(needle) < n) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`stream ended without "${needle}": ${text}`);
        text += new TextDecoder().decode(chunk.value);
      }
    } finally {
      clearTimeout(timer);
    }
  };
  const s: EventStream = { text: () => text, count, untilCount, until: (needle) => untilCount(needle, 1) };
  await s.until('event: hello');
  return s;
}

/** An answer with what differs between two documents of the same kind (its number, the time) left out. */
function shape(a: Answer): unknown {
  const body = structuredClone(a.body) as { document?: unknown; object?: { since?: unknown } };
  delete body.document;
  if (body.object) delete body.object.since;
  return { status: a.status, body };
}

describe('duress code in the app and the chat (HTTP)', () => {
  it('the app answers as to the real code; the client sees a normal disarm, operators see the alarm; the client\'s stream gets no alert', async () => {
    const r = await httpRig();
    const clientId = await seeded(r.fx);
    const t = await signIn(r, 'app');
    const mine = await stream(r, '/v1/events', t);
    const console = await stream(r, '/v1/admin/events', r.operator);

    const disarmInApp = async (typed: (code: string) => string): Promise<Answer> => {
      const d = await call(r, 'POST', '/v1/objects/1234/disarm', t);
      expect(d.status).toBe(202);
      return call(r, 'POST', `/v1/documents/${d.body.documentId as string}/confirm`, t, { code: typed(await r.fx.lastCode(PHONE)) });
    };
    const real = await disarmInApp((code) => code);
    expect(real).toMatchObject({ status: 200, body: { action: 'disarm', changed: true, object: { code: '1234', status: 'disarmed' } } });
    await mine.untilCount('"status":"disarmed"', 1);
    await rearm(r.fx);
    await mine.untilCount('"status":"armed"', 1);
    const duress = await disarmInApp(() => DURESS);
    expect(shape(duress)).toEqual(shape(real));
    expect(Object.keys(duress.body).sort()).toEqual(Object.keys(real.body).sort());
    expect((await r.fx.core.getObject('1234')).status).toBe('disarmed');
    await expectSilentAlarm(r.fx, 'app');

    // the console hears the alarm; the client's stream shows the disarm and, after an arm that
    // follows the alarm, the arm, and never the alert
    await console.until('"kind":"duress"');
    await rearm(r.fx);
    await mine.untilCount('"status":"armed"', 2);
    expect(mine.count('"status":"disarmed"')).toBe(2);
    expect(mine.text()).not.toContain('duress');
    expect(mine.text()).not.toContain('alert');

    // the client's documents: two executed disarms alike, nothing of the duress code
    const docs = (await call(r, 'GET', '/v1/documents', t)).body.documents as Array<Record<string, unknown>>;
    const disarms = docs.filter((d) => d.action === 'disarm' && d.outcome === 'executed');
    expect(disarms).toHaveLength(2);
    expect(disarms.map((d) => ({ channel: d.channel, auth: d.auth, reason: d.reason, object: d.object }))).toEqual([
      { channel: 'app', auth: 'otp', reason: null, object: '1234' }, { channel: 'app', auth: 'otp', reason: null, object: '1234' },
    ]);
    expect(JSON.stringify(docs)).not.toContain('duress');
    expect(docs.some((d) => d.action === 'operator-alert')).toBe(false);
    expect(docs.some((d) => d.action === 'confirm' && d.outcome === 'refused')).toBe(false);

    // operators read the record and the alert in the journal
    const journal = (await call(r, 'GET', `/v1/admin/journal?client=${clientId}`, r.operator)).body.documents as Array<Record<string, unknown>>;
    expect(journal.filter((d) => d.action === 'duress')).toHaveLength(1);
    expect(journal.filter((d) => d.action === 'operator-alert' && d.reason === 'duress')).toHaveLength(1);
    const metrics = await fetch(`${r.url}/metrics`);
    expect(await metrics.text()).toMatch(/^zhedel_duress_alarms 1$/m);
    expect(await outboxKinds(r.fx)).toEqual(['otp', 'otp', 'otp']);
  });

  it('the chat answers the duress code with the words of a disarm', async () => {
    const r = await httpRig();
    await seeded(r.fx, 'kk');
    const t = await signIn(r, 'chat');
    const say = async (text: string): Promise<Answer> => call(r, 'POST', '/v1/chat', t, { text });
    expect((await say('АЛУ')).body.reply).toContain('Растау коды');
    const real = await say(await r.fx.lastCode(PHONE));
    expect(real).toEqual({ status: 200, body: { reply: '1234 нысаны күзеттен алынды.', lang: 'kk' } });
    await rearm(r.fx);
    expect((await say('АЛУ')).body.reply).toContain('Растау коды');
    const duress = await say(DURESS);
    expect(duress).toEqual(real);
    expect((await r.fx.core.getObject('1234')).status).toBe('disarmed');
    await expectSilentAlarm(r.fx, 'chat');
    // a wrong code is still a wrong code, and an arm's code never takes the duress code
    await rearm(r.fx);
    expect((await say('АЛУ')).body.reply).toContain('Растау коды');
    expect((await say('48213')).body.reply).toBe('Код қате. Қалған әрекет: 2.');
    expect((await r.fx.core.getObject('1234')).status).toBe('armed');
    expect(await r.fx.core.searchJournal({ action: 'duress' })).toHaveLength(1);
  });

  it('operators set and clear it with a signed application; bad input is refused and changes nothing; only whether it is set is shown', async () => {
    const r = await httpRig();
    const { clientId } = await seedClient(r.fx);
    const before = (await r.fx.core.searchJournal({ limit: 1000 })).length;
    const put = async (body: unknown): Promise<Answer> => call(r, 'PUT', `/v1/admin/clients/${clientId}/duress`, r.operator, body);
    const refused = async (body: unknown, message: RegExp): Promise<void> => {
      const a = await put(body);
      expect(a.status).toBe(400);
      expect((a.body.error as { code: string }).code).toBe('BAD_INPUT');
      expect((a.body.error as { message: string }).message).toMatch(message);
    };
    await refused({ code: '5827', signed: false }, /signed application/);
    await refused({ code: '5827' }, /signed/);
    await refused({ code: '4444', signed: true }, /all its digits are the same/);
    await refused({ code: '3456', signed: true }, /in a row/);
    await refused({ code: '123', signed: true }, /4 to 8 digits/);
    await refused({ code: '123456789', signed: true }, /4 to 8 digits/);
    await refused({ code: '12a4', signed: true }, /4 to 8 digits/);
    expect((await call(r, 'PUT', `/v1/admin/clients/${clientId}/duress`, undefined, { code: '5827', signed: true })).status).toBe(401);
    expect((await put({ code: '5827', signed: true, extra: 1 })).status).toBe(400);
    expect((await call(r, 'PUT', '/v1/admin/clients/999/duress', r.operator, { code: '5827', signed: true })).status).toBe(404);
    expect(await r.fx.core.duressStatus(clientId)).toEqual({ set: false, since: null, clearedAt: null });
    expect((await r.fx.core.searchJournal({ limit: 1000 })).length).toBe(before);

    const set = await put({ code: '5827', signed: true });
    expect(set).toMatchObject({ status: 200, body: { duress: { set: true, since: expect.any(String) } } });
    const shown = await call(r, 'GET', `/v1/admin/clients/${clientId}`, r.operator);
    expect(shown.body.duress).toEqual({ set: true, since: (set.body.duress as { since: string }).since });
    expect(JSON.stringify(shown.body)).not.toContain('5827');
    const stored = r.fx.db.prepare('SELECT * FROM duress_codes').all() as Array<Record<string, unknown>>;
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain('5827');
    expect((stored[0]?.code_hash as Buffer).length).toBe(32);
    const doc = (await r.fx.core.searchJournal({ action: 'duress-set' }))[0];
    expect(doc).toMatchObject({ channel: 'operator', clientId, operator: 'Operator Dias', outcome: 'executed' });
    expect(JSON.stringify(doc)).not.toContain('5827');

    const cleared = await call(r, 'DELETE', `/v1/admin/clients/${clientId}/duress`, r.operator);
    expect(cleared).toEqual({ status: 200, body: { duress: { set: false, since: null } } });
    expect((await call(r, 'GET', `/v1/admin/clients/${clientId}`, r.operator)).body.duress).toEqual({ set: false, since: null });
    expect((await r.fx.core.duressStatus(clientId)).clearedAt).not.toBeNull();
    expect(await r.fx.core.searchJournal({ action: 'duress-clear' })).toHaveLength(1);
  });

  it('the client sets it in the app after a one-time code (neutral SMS), and clears it; the code is checked before the one-time code is used', async () => {
    const r = await httpRig();
    const { clientId } = await seedClient(r.fx);
    const t = await signIn(r, 'app');
    const asked = await call(r, 'POST', '/v1/account/duress', t);
    expect(asked.status).toBe(202);
    const challengeId = asked.body.documentId as string;
    const sms = (await r.fx.core.listOutbox({ limit: 1, reveal: true }))[0];
    expect(sms?.text).toMatch(/^Код \d{6}: изменение настроек безопасности\. Никому не сообщайте\.$/);
    const otp = await r.fx.lastCode(PHONE);
    const confirm = async (body: Record<string, unknown>): Promise<Answer> => call(r, 'POST', '/v1/account/duress/confirm', t, { challengeId, code: otp, ...body });

    // a one-time code of a change is not a document's: the document route does not take it
    expect((await call(r, 'POST', `/v1/documents/${challengeId}/confirm`, t, { code: otp })).status).toBe(404);
    for (const [duress, message] of [[undefined, /give the new duress code/], ['9999', /same/], ['9876', /in a row/], ['12', /4 to 8 digits/]] as const) {
      const a = await confirm(duress === undefined ? {} : { duress });
      expect(a.status).toBe(400);
      expect((a.body.error as { message: string }).message).toMatch(message);
    }
    expect(await r.fx.core.duressStatus(clientId)).toMatchObject({ set: false });
    const done = await confirm({ duress: DURESS });
    expect(done).toMatchObject({ status: 200, body: { duress: 'set' } });
    expect(await r.fx.core.duressStatus(clientId)).toMatchObject({ set: true });
    expect((await confirm({ duress: '52816' })).body.error).toMatchObject({ code: 'CODE_USED' });

    // it now works as a duress code
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const d = await call(r, 'POST', '/v1/objects/1234/disarm', t);
    const c = await call(r, 'POST', `/v1/documents/${d.body.documentId as string}/confirm`, t, { code: DURESS });
    expect(c).toMatchObject({ status: 200, body: { action: 'disarm', object: { status: 'disarmed' } } });
    expect(await r.fx.core.searchJournal({ action: 'duress' })).toHaveLength(1);

    // clearing: a code again, no new duress code with it
    const clearAsk = await call(r, 'DELETE', '/v1/account/duress', t);
    expect(clearAsk.status).toBe(202);
    const clearOtp = await r.fx.lastCode(PHONE);
    const withCode = await call(r, 'POST', '/v1/account/duress/confirm', t, { challengeId: clearAsk.body.documentId, code: clearOtp, duress: '52816' });
    expect(withCode.status).toBe(400);
    const wrong = await call(r, 'POST', '/v1/account/duress/confirm', t, { challengeId: clearAsk.body.documentId, code: clearOtp === '000000' ? '111111' : '000000' });
    expect(wrong.body.error).toMatchObject({ code: 'CODE_WRONG', details: { attemptsLeft: 2 } });
    const cleared = await call(r, 'POST', '/v1/account/duress/confirm', t, { challengeId: clearAsk.body.documentId, code: clearOtp });
    expect(cleared).toMatchObject({ status: 200, body: { duress: 'cleared' } });
    expect(await r.fx.core.duressStatus(clientId)).toMatchObject({ set: false });

    // none of it is in the client's documents
    const docs = (await call(r, 'GET', '/v1/documents', t)).body.documents as Array<Record<string, unknown>>;
    expect(JSON.stringify(docs)).not.toContain('duress');
    expect((await r.fx.core.searchJournal({ action: 'duress-set' }))[0]).toMatchObject({ channel: 'app', clientId, outcome: 'executed' });
  });

  it('the duress code never reaches a log line', async () => {
    const r = await httpRig();
    const { clientId } = await seedClient(r.fx);
    await call(r, 'PUT', `/v1/admin/clients/${clientId}/duress`, r.operator, { code: DURESS, signed: true });
    await call(r, 'PUT', `/v1/admin/clients/${clientId}/duress`, r.operator, { code: '88888', signed: true });
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const t = await signIn(r, 'app');
    const d = await call(r, 'POST', '/v1/objects/1234/disarm', t);
    expect((await call(r, 'POST', `/v1/documents/${d.body.documentId as string}/confirm`, t, { code: DURESS })).status).toBe(200);
    const asked = await call(r, 'POST', '/v1/account/duress', t);
    await call(r, 'POST', '/v1/account/duress/confirm', t, { challengeId: asked.body.documentId, code: await r.fx.lastCode(PHONE), duress: '22222' });
    await call(r, 'POST', '/v1/account/duress/confirm', t, { challengeId: asked.body.documentId, code: await r.fx.lastCode(PHONE), duress: '60492' });
    await r.app.close(); // every response logged
    const all = r.logs.join('');
    expect(all).toContain('"url":"/v1/account/duress/confirm"');
    for (const secret of [DURESS, '88888', '22222', '60492']) expect(all).not.toContain(secret);
    expect(findSecrets(all)).toEqual([]);
    expect(findSecrets('{"level":30,"duress":"60492"}')).not.toEqual([]);
    expect(await r.fx.core.searchJournal({ action: 'duress' })).toHaveLength(1);
  });
});
