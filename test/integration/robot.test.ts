import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runConfirmCalls } from '../../src/telephony/confirm-calls.ts';
import type { CallQuery } from '../../src/core/core.ts';
import type { CallRow } from '../../src/core/ports.ts';
import { runAlarmCalls } from '../../src/telephony/alarm-calls.ts';
import { Telephony } from '../../src/telephony/service.ts';
import { createLogger } from '../../src/logger.ts';
import type { Logger } from '../../src/logger.ts';
import { knownPrompt } from '../../src/telephony/speech.ts';
import { AsteriskSim } from '../sim/asterisk.ts';
import type { SimCall } from '../sim/asterisk.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger, until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

interface Rig {
  fx: Fixture;
  sim: AsteriskSim;
  tel: Telephony;
}

interface RigOptions {
  playbackMs?: number;
  logger?: Logger;
  timings?: { firstDigitMs?: number; interDigitMs?: number; playbackLimitMs?: number };
}

async function rig(o: RigOptions = {}): Promise<Rig> {
  const fx = makeFixture({ realClock: true });
  cleanups.push(() => fx.close());
  const sim = await AsteriskSim.start({ playbackMs: o.playbackMs ?? 5 });
  cleanups.push(() => sim.close());
  const tel = new Telephony({
    url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', calloutEndpoint: 'PJSIP/{number}@trunk',
    core: fx.core, clock: fx.clock, timeZone: 'Asia/Almaty', logger: o.logger ?? quietLogger,
    timings: { firstDigitMs: 400, interDigitMs: 250, playbackLimitMs: 600, ...o.timings }, retryDelaysMs: [100, 200],
  });
  tel.start();
  cleanups.push(() => tel.stop(500));
  await until(() => tel.link.isConnected(), 5_000, 'ARI connected');
  return { fx, sim, tel };
}

/** Prompt ids without the language, e.g. 'main-menu'. */
function ids(call: SimCall): string[] {
  const list = call.prompts.map((p) => p.split('/')[1] ?? p);
  for (const id of list) expect(knownPrompt(id), `prompt ${id} exists`).toBe(true);
  return list;
}

function langs(call: SimCall): string[] {
  return [...new Set(call.prompts.map((p) => p.split('/')[0]))] as string[];
}

async function menu(call: SimCall, after = 0): Promise<number> {
  return call.waitForPrompt('main-menu', 5_000, after);
}

describe('phone robot against the Asterisk simulator', () => {
  it('refuses an unknown caller in both languages and hangs up', async () => {
    const { fx, sim, tel } = await rig();
    const call = sim.call({ number: '87019999999' });
    await call.waitForEnd();
    expect(call.prompts).toEqual(['ru/unknown-number', 'kk/unknown-number']);
    expect(call.answered).toBe(true);
    expect((await fx.core.searchJournal({ action: 'call' }))[0]).toMatchObject({ channel: 'phone', outcome: 'refused', reason: 'unknown', phone: '+77019999999' });
    await until(() => tel.activeCalls === 0, 2_000, 'no call state left');
  });

  it('tells pending, blocked and suspended callers why, in their language', async () => {
    const { fx, sim } = await rig();
    const { clientId } = await seedClient(fx, { lang: 'kk' });
    await fx.core.addNumber({ clientId, phone: '87021112233', operator: 'op' });
    const pending = sim.call({ number: '7021112233' });
    await pending.waitForEnd();
    expect(pending.prompts).toEqual(['kk/number-pending']);
    await fx.core.blockNumber({ phone: '87011234567', reason: 'lost', operator: 'op' });
    const blocked = sim.call({ number: '+77011234567' });
    await blocked.waitForEnd();
    expect(blocked.prompts).toEqual(['kk/number-blocked']);
    await fx.core.unblockNumber({ phone: '87011234567', operator: 'op' });
    await fx.store.transaction(async (tx) => tx.setSuspended(clientId, new Date().toISOString()));
    const suspended = sim.call({ number: '77011234567' });
    await suspended.waitForEnd();
    expect(suspended.prompts).toEqual(['kk/service-suspended']);
  });

  it('a first-time caller chooses Kazakh; the choice is remembered; status and arm with one confirmation key', async () => {
    const { fx, sim } = await rig();
    const c = await fx.core.addClient({ name: 'New caller', operator: 'op' }); // no language recorded
    const clientId = c.id;
    await fx.core.addObject({ clientId, code: '1234', address: 'x', operator: 'op' });
    await fx.core.addNumber({ clientId, phone: '87011234567', signed: true, operator: 'op' });
    expect((await fx.core.getClient(clientId)).langChosen).toBe(false);
    const call = sim.call({ number: '87011234567' });
    await call.waitForPrompt('choose-language');
    await call.press('2');
    await menu(call);
    expect(langs(call)).toEqual(['ru', 'kk']);
    expect(await fx.core.getClient(clientId)).toMatchObject({ lang: 'kk', langChosen: true });
    const statusIds = ids(call).slice(ids(call).indexOf('choose-language') + 1);
    expect(statusIds.slice(0, 6)).toEqual(['object', 'digit-1', 'digit-2', 'digit-3', 'digit-4', 'status-disarmed']);
    expect(statusIds).toContain('changed-at');
    expect(statusIds).toContain('today');
    const n = call.prompts.length;
    await call.press('1');
    await call.waitForPrompt('confirm-arm', 5_000, n);
    await call.press('1');
    await call.waitForPrompt('armed-ok', 5_000, n);
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    const m = call.prompts.length;
    await menu(call, m - 1);
    await call.press('9');
    await call.waitForEnd();
    expect(ids(call).at(-1)).toBe('goodbye');
    expect((await fx.core.searchJournal({ action: 'arm' }))[0]).toMatchObject({ channel: 'phone', auth: 'caller-id', outcome: 'executed', objectCode: '1234' });

    const again = sim.call({ number: '87011234567' });
    await menu(again);
    expect(ids(again)).not.toContain('choose-language');
    expect(ids(again)[0]).toBe('welcome');
    expect(langs(again)).toEqual(['kk']);
    again.hangup();
  });

  it('several objects: the caller types a code and #; * goes back to the list', async () => {
    const { sim } = await setupSeeded({ codes: ['1111', '2222'] });
    const call = sim.call({ number: '87011234567' });
    await call.waitForPrompt('choose-object');
    expect(ids(call).filter((p) => p === 'object')).toHaveLength(2);
    await call.press('2222#');
    await menu(call);
    const afterChoice = ids(call).slice(ids(call).indexOf('choose-object') + 1);
    expect(afterChoice.slice(0, 5)).toEqual(['object', 'digit-2', 'digit-2', 'digit-2', 'digit-2']);
    const n = call.prompts.length;
    await call.press('*');
    await call.waitForPrompt('choose-object', 5_000, n);
    await call.press('9999#');
    await call.waitForPrompt('object-not-found', 5_000, n);
    call.hangup();
  });

  it('disarms with the code sent by SMS, typed with #', async () => {
    const { fx, sim } = await setupSeeded();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    const n = call.prompts.length;
    await call.press('2');
    await call.waitForPrompt('code-sent', 5_000, n);
    const code = await fx.lastCode('+77011234567');
    await call.press(`${code}#`, { gapMs: 20 });
    await call.waitForPrompt('disarmed-ok', 5_000, n);
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect((await fx.core.searchJournal({ action: 'disarm', outcome: 'executed' }))[0]).toMatchObject({ channel: 'phone', auth: 'otp' });
    call.hangup();
  });

  it('a disarm the rules hold waits for the call-back: the caller hears so, and key 1 on the call-back disarms', async () => {
    const { fx, sim, tel } = await setupSeeded();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await fx.core.setCompanyRules({ rules: { callback: { always: true } }, operator: 'admin' });
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    const n = call.prompts.length;
    await call.press('2');
    await call.waitForPrompt('code-sent', 5_000, n);
    await call.press(`${await fx.lastCode('+77011234567')}#`, { gapMs: 20 });
    const at = await call.waitForPrompt('held-callback', 5_000, n);
    await menu(call, at);
    expect(ids(call).slice(n)).not.toContain('disarmed-ok');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    call.hangup();
    // the call-back: Asterisk rings the trusted number, which answers and presses 1
    sim.onOriginate = () => ({ kind: 'answer' });
    const [plan] = await fx.core.takeHoldCalls();
    const done = runConfirmCalls(plan as NonNullable<typeof plan>, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 2 }), logger: quietLogger });
    const back = await until(() => sim.answered.find((c) => c.prompts.some((p) => p.endsWith('confirm-press'))), 5_000, 'the call-back asks');
    expect(back.channel.caller.number.slice(0, 11)).toBe('77011234567');
    expect(ids(back).slice(0, 3)).toEqual(['confirm-intro', 'confirm-action-disarm', 'object']);
    expect(ids(back)).toContain('confirm-via-phone');
    await back.press('1');
    expect(await done).toBe('confirmed');
    expect(ids(back)).toContain('confirm-done');
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect((await fx.core.searchJournal({ action: 'disarm', limit: 5 })).map((d) => [d.outcome, d.auth])).toEqual([['executed', 'callback'], ['held', 'otp'], ['challenged', 'caller-id']]);
  });

  it('signed in to the app, then a call within 5 s disarms; twenty sign-in requests by a stranger change nothing', async () => {
    const { fx, sim } = await setupSeeded();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const signIn = await fx.core.requestSignIn({ channel: 'app', phone: '87011234567' });
    if (signIn.kind !== 'sent') throw new Error('expected a sign-in code');
    expect(await fx.core.confirm({ channel: 'app', phone: '87011234567', code: await fx.lastCode('+77011234567'), challengeId: signIn.challengeId })).toMatchObject({ kind: 'done' });
    fx.clock.advance(4_000);
    const disarm = async (): Promise<void> => {
      const call = sim.call({ number: '87011234567' });
      await menu(call);
      const n = call.prompts.length;
      await call.press('2');
      await call.waitForPrompt('code-sent', 5_000, n);
      await call.press(`${await fx.lastCode('+77011234567')}#`, { gapMs: 20 });
      await call.waitForPrompt('disarmed-ok', 5_000, n);
      expect(ids(call)).not.toContain('code-send-limit');
      call.hangup();
    };
    await disarm();
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    for (let i = 0; i < 20; i++) {
      await fx.core.requestSignIn({ channel: 'chat', phone: '87011234567' });
      fx.clock.advance(61_000);
    }
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await disarm();
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect((await fx.core.listAlerts()).filter((a) => a.kind === 'code-flood')).toHaveLength(1);
  });

  it('three wrong codes end the attempt and the object stays armed', async () => {
    const { fx, sim } = await setupSeeded();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    const n = call.prompts.length;
    await call.press('2');
    await call.waitForPrompt('code-sent', 5_000, n);
    const wrong = await fx.lastCode('+77011234567') === '000000' ? '111111' : '000000';
    // keys pressed while an error prompt plays are dropped: the caller types after it
    await call.press(`${wrong}#`, { gapMs: 10 });
    await call.waitForPlayback('code-wrong', 'finished');
    await call.press(`${wrong}#`, { gapMs: 10 });
    await call.waitForPlayback('code-wrong-last-try', 'finished');
    await call.press(`${wrong}#`, { gapMs: 10 });
    await call.waitForPrompt('code-attempts-exhausted', 5_000, n);
    await menu(call, call.prompts.length - 1);
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    call.hangup();
  });

  it('after three timeouts the robot says goodbye and hangs up', async () => {
    const { sim, tel } = await setupSeeded();
    const call = sim.call({ number: '87011234567' });
    await call.waitForEnd(8_000);
    expect(ids(call).filter((p) => p === 'no-entry')).toHaveLength(3);
    expect(ids(call).slice(-2)).toEqual(['too-many-errors', 'goodbye']);
    await until(() => tel.activeCalls === 0, 2_000, 'call state cleared');
  });

  it('invalid keys count as errors; a key interrupts the prompt and the robot stops the playback', async () => {
    const { sim } = await setupSeeded({}, { playbackMs: 300 });
    const call = sim.call({ number: '87011234567' });
    await call.waitForPrompt('main-menu', 8_000);
    await call.waitFor(() => call.playbacks.at(-1)?.state === 'playing', 3_000, 'menu playing');
    await call.press('7');
    await call.waitForPrompt('invalid-entry');
    const menuPlayback = call.playbacks.find((p) => p.media.some((m) => m.endsWith('/main-menu')));
    expect(menuPlayback?.stoppedByApp).toBe(true);
    call.hangup();
  });

  it('key 0 hands the caller to an operator in the dialplan', async () => {
    const { sim, tel } = await setupSeeded();
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    await call.press('0');
    await call.waitFor(() => call.continuedTo, 5_000, 'continue');
    expect(call.continuedTo).toEqual({ context: 'zhedel-operator', extension: 's', priority: 1 });
    expect(ids(call).at(-1)).toBe('connecting-operator');
    await until(() => tel.activeCalls === 0, 2_000, 'call state cleared');
  });

  it.each(['welcome', 'object', 'main-menu', 'confirm-arm', 'code-sent'])('a hang-up while "%s" plays leaves nothing behind', async (prompt) => {
    const { fx, sim, tel } = await setupSeeded();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const call = sim.call({ number: '87011234567' });
    call.hangupWhenPlaying(`/${prompt}`);
    if (prompt === 'confirm-arm' || prompt === 'code-sent') {
      await menu(call);
      await call.press(prompt === 'confirm-arm' ? '1' : '2');
    }
    await call.waitForEnd();
    await until(() => tel.activeCalls === 0, 3_000, 'call state cleared');
    const before = sim.requests.length;
    // another call played to its end: the robot has gone on handling events and requests since
    const next = sim.call({ number: '87019999999' });
    await next.waitForEnd(10_000);
    // no request for the gone channel after its end, other than answered 404s
    expect(sim.requests.slice(before).filter((r) => r.path.includes(call.id) && r.status !== 404)).toHaveLength(0);
  });

  it('a playback that never finishes does not hang the call', async () => {
    const { sim } = await setupSeeded();
    sim.playbacksNeverFinish = true;
    const call = sim.call({ number: '87011234567' });
    await call.waitForPrompt('main-menu', 5_000);
    await call.press('3');
    await call.waitFor(() => ids(call).filter((p) => p === 'main-menu').length >= 2, 5_000, 'menu again');
    call.hangup();
  });

  it('two calls at once arm the same object once', async () => {
    const { fx, sim } = await setupSeeded();
    await fx.core.addNumber({ clientId: 1, phone: '87057654321', signed: true, operator: 'op' });
    const a = sim.call({ number: '87011234567' });
    const b = sim.call({ number: '87057654321' });
    await Promise.all([menu(a), menu(b)]);
    await Promise.all([a.press('1'), b.press('1')]);
    await Promise.all([a.waitForPrompt('confirm-arm'), b.waitForPrompt('confirm-arm')]);
    await Promise.all([a.press('1'), b.press('1')]);
    await Promise.all([a.waitFor(() => ids(a).some((p) => p.includes('armed-ok') || p === 'already-armed')), b.waitFor(() => ids(b).some((p) => p.includes('armed-ok') || p === 'already-armed'))]);
    const results = [ids(a), ids(b)].map((l) => (l.includes('armed-ok') ? 'armed' : 'already'));
    expect(results.sort()).toEqual(['already', 'armed']);
    expect(await fx.core.searchJournal({ action: 'arm', outcome: 'executed' })).toHaveLength(2);
    a.hangup();
    b.hangup();
  });

  it('reconnects after the WebSocket drops and after an Asterisk restart; calls in progress are cleaned up', async () => {
    const { sim, tel } = await setupSeeded();
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    sim.dropWebSockets();
    await until(() => tel.activeCalls === 0, 3_000, 'call dropped with the link');
    await until(() => sim.connectedApps().includes('zhedel'), 8_000, 'reconnected');
    // the call stayed in Stasis in Asterisk, silent: once the link is back it is hung up
    expect(call.isEnded).toBe(false);
    await until(() => call.isEnded, 8_000, 'the call left by the dropped link hung up');
    expect(sim.requestsFor(call.id).some((r) => r.method === 'DELETE')).toBe(true);
    const next = sim.call({ number: '87011234567' });
    await menu(next);
    await sim.restart(300);
    await until(() => tel.activeCalls === 0, 3_000, 'calls cleaned after restart');
    await until(() => sim.connectedApps().includes('zhedel'), 10_000, 'reconnected after restart');
    await until(() => tel.link.isConnected(), 3_000, 'ready again');
    const third = sim.call({ number: '87011234567' });
    await menu(third);
    third.hangup();
  });

  it('alarm call-outs: acknowledged with 1, no answer, busy, rejected, answered without a key', async () => {
    const { sim, tel } = await setupSeeded();
    const outcomes: Record<string, 'answer' | 'busy' | 'no-answer' | 'reject'> = {
      '77011111111': 'answer', '77022222222': 'no-answer', '77033333333': 'busy', '77044444444': 'reject', '77055555555': 'answer',
    };
    sim.onOriginate = (endpoint) => ({ kind: outcomes[endpoint.replace(/\D/g, '').slice(0, 11)] ?? 'fail' });
    const req = { lang: 'ru' as const, objectCode: '1234', kind: 'burglary', zone: 3, ringSec: 1 };
    const ack = tel.callOut({ ...req, phone: '+77011111111' });
    const callee = await until(() => sim.answered[0], 3_000, 'answered call-out');
    await callee.waitForPrompt('alarm-press-1');
    expect(ids(callee).slice(0, 9)).toEqual(['alarm-callout-intro', 'object', 'digit-1', 'digit-2', 'digit-3', 'digit-4', 'alarm-burglary', 'alarm-zone', 'digit-3']);
    await callee.press('1');
    expect(await ack).toBe('acknowledged');
    expect(ids(callee)).toContain('alarm-acknowledged');
    expect(sim.originated[0]?.endpoint).toBe('PJSIP/77011111111@trunk');
    expect(await tel.callOut({ ...req, phone: '+77022222222' })).toBe('no-answer');
    expect(await tel.callOut({ ...req, phone: '+77033333333' })).toBe('busy');
    expect(await tel.callOut({ ...req, phone: '+77044444444' })).toBe('rejected');
    const silent = tel.callOut({ ...req, phone: '+77055555555' });
    expect(await silent).toBe('no-key');
    await until(() => tel.activeCalls === 0, 2_000, 'call-outs cleared');
  });
});

/** Generous: the whole suite may run twice in parallel on a small machine. */
const LOADED = { firstDigitMs: 10_000, interDigitMs: 3_000, playbackLimitMs: 30_000 };

/** Prompt ids from index `from` on. */
function idsFrom(call: SimCall, from: number): string[] {
  return ids(call).slice(from);
}

describe('keys typed ahead and keys dropped after an error', () => {
  it.each(['ru', 'kk'] as const)('%s: 1 1 pressed during the welcome arms, without the status, the menu or the confirmation being played', async (lang) => {
    const { fx, sim } = await setupSeeded({ lang }, { timings: LOADED });
    const call = sim.call({ number: '87011234567' });
    call.holdWhenPlaying('/welcome');
    const welcome = await call.waitForPlayback('welcome', 'playing', 10_000);
    await call.press('11');
    await call.waitForPrompt('armed-ok', 10_000);
    expect(welcome.stoppedByApp).toBe(true);
    const beforeArmed = ids(call).slice(0, ids(call).indexOf('armed-ok'));
    // the first 1 is already waiting when the status and the menu come: they are skipped
    expect(beforeArmed.filter((p) => p !== 'confirm-arm')).toEqual(['welcome']);
    expect(langs(call)).toEqual([lang]);
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect(await fx.core.searchJournal({ action: 'arm' })).toHaveLength(1);
    call.hangup();
  });

  it('a key pressed during the status answers the menu; 9 pressed during "armed" ends the call', async () => {
    const { fx, sim } = await setupSeeded({ lang: 'kk' }, { timings: LOADED });
    const call = sim.call({ number: '87011234567' });
    call.holdWhenPlaying('/status-disarmed');
    call.holdWhenPlaying('/armed-ok');
    const status = await call.waitForPlayback('status-disarmed', 'playing', 10_000);
    await call.press('1');
    const confirm = await call.waitForPrompt('confirm-arm', 10_000);
    expect(status.stoppedByApp).toBe(true);
    expect(ids(call)).not.toContain('main-menu');
    await call.press('1');
    const armed = await call.waitForPlayback('armed-ok', 'playing', 10_000);
    await call.press('9');
    await call.waitForEnd(10_000);
    expect(armed.stoppedByApp).toBe(true);
    expect(idsFrom(call, confirm)).toEqual(['armed-ok', 'goodbye']);
    expect(ids(call)).not.toContain('main-menu');
    expect(langs(call)).toEqual(['kk']);
    expect((await fx.core.getObject('1234')).status).toBe('armed');
  });

  it('keys typed right before and during "invalid entry" are dropped; the menu is asked again from scratch', async () => {
    const { fx, sim } = await setupSeeded({}, { timings: LOADED });
    const call = sim.call({ number: '87011234567' });
    call.holdWhenPlaying('/invalid-entry');
    await call.waitForPlayback('main-menu', 'playing', 10_000);
    await call.press('711'); // 7 is no choice; the caller types on
    const invalid = await call.waitForPlayback('invalid-entry', 'playing', 10_000);
    await call.press('1');
    call.release();
    await call.waitForPrompt('main-menu', 10_000, ids(call).indexOf('invalid-entry'));
    expect(invalid.stoppedByApp).toBe(false);
    await call.press('9');
    await call.waitForEnd(10_000);
    expect(idsFrom(call, ids(call).indexOf('invalid-entry'))).toEqual(['invalid-entry', 'main-menu', 'goodbye']);
    expect(ids(call)).not.toContain('menu-other-object'); // one object: no "another object" in the menu
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
  });

  it.each(['ru', 'kk'] as const)('%s: after exhausted code attempts the digits the caller is still typing do not arm', async (lang) => {
    const { fx, sim } = await setupSeeded({ lang }, { timings: LOADED });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const call = sim.call({ number: '87011234567' });
    await call.waitForPrompt('main-menu', 10_000);
    await call.press('2');
    await call.waitForPrompt('code-sent', 10_000);
    const wrong = await fx.lastCode('+77011234567') === '111111' ? '222222' : '111111';
    call.holdWhenPlaying('/code-attempts-exhausted');
    await call.press(`${wrong}#`, { gapMs: 10 });
    await call.waitForPlayback('code-wrong', 'finished', 10_000);
    await call.press(`${wrong}#`, { gapMs: 10 });
    await call.waitForPlayback('code-wrong-last-try', 'finished', 10_000);
    // the third wrong code, and the caller goes on typing 1s: before and during "exhausted"
    await call.press(`${wrong}#11`, { gapMs: 10 });
    const exhausted = await call.waitForPlayback('code-attempts-exhausted', 'playing', 10_000);
    await call.press('111#');
    call.release();
    const from = ids(call).indexOf('code-attempts-exhausted');
    await call.waitForPrompt('main-menu', 10_000, from);
    await call.press('9');
    await call.waitForEnd(10_000);
    expect(exhausted.stoppedByApp).toBe(false);
    expect(idsFrom(call, from)).toEqual(['code-attempts-exhausted', 'main-menu', 'goodbye']);
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect(await fx.core.searchJournal({ channel: 'phone', action: 'arm' })).toHaveLength(0);
  });

  it('a caller with several objects hears "another object: star" after the menu; one object does not', async () => {
    const { sim } = await setupSeeded({ codes: ['1111', '2222'] }, { timings: LOADED });
    const call = sim.call({ number: '87011234567' });
    await call.waitForPrompt('choose-object', 10_000);
    await call.press('1111#');
    const at = await call.waitForPrompt('main-menu', 10_000);
    await call.waitForPrompt('menu-other-object', 10_000, at);
    expect(ids(call)[at]).toBe('menu-other-object');
    call.hangup();
  });
});

async function setupSeeded(seed: Parameters<typeof seedClient>[1] = {}, o: RigOptions = {}): Promise<Rig> {
  const r = await rig(o);
  await seedClient(r.fx, seed);
  return r;
}

describe('call history', () => {
  /** The history's newest call once `done` holds for it. */
  async function lastCall(fx: Fixture, done: (c: CallRow) => boolean, what: string, q: CallQuery = {}): Promise<CallRow> {
    let last: CallRow | undefined;
    await until(async () => {
      last = (await fx.core.listCalls({ limit: 1, ...q }))[0];
      return last !== undefined && done(last);
    }, 5_000, what);
    return last as CallRow;
  }

  it('an incoming call is listed with the caller, the client, the object, what was done and how it ended', async () => {
    const { fx, sim } = await setupSeeded();
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    // while the call goes on it is listed without an end
    const open = await lastCall(fx, (c) => c.actions.includes('status 1234: armed'), 'the status in the history');
    expect(open).toMatchObject({ direction: 'in', purpose: 'client', phone: '+77011234567', objectCode: '1234', endedAt: null, outcome: null });
    const n = call.prompts.length;
    await call.press('2');
    await call.waitForPrompt('code-sent', 5_000, n);
    await call.press(`${await fx.lastCode('+77011234567')}#`, { gapMs: 20 });
    await call.waitForPrompt('disarmed-ok', 5_000, n);
    await menu(call, n);
    await call.press('9');
    await call.waitForEnd();
    const c = await lastCall(fx, (r) => r.endedAt !== null, 'the call ended in the history', { objectCode: '1234' });
    const id = await fx.core.identify('+77011234567');
    expect(c).toMatchObject({
      id: call.id, direction: 'in', purpose: 'client', phone: '+77011234567', clientId: id.client?.id, objectCode: '1234', outcome: 'goodbye',
      actions: ['status 1234: armed', 'disarm 1234: code sent', 'disarm 1234: done'], eventId: null, round: null,
    });
    expect(c.answeredAt! >= c.startedAt && c.endedAt! >= c.answeredAt!).toBe(true);
    // the filters find it by the number in any usual form, and not by another purpose
    expect((await fx.core.listCalls({ phone: '8 701 123 45 67' })).map((r) => r.id)).toEqual([call.id]);
    expect(await fx.core.listCalls({ purpose: 'alarm' })).toEqual([]);
  });

  it('an unknown caller is listed as refused; a caller id that is no Kazakhstan number is kept as it came', async () => {
    const { fx, sim } = await rig();
    const unknown = sim.call({ number: '87019999999' });
    await unknown.waitForEnd();
    expect(await lastCall(fx, (c) => c.endedAt !== null, 'the refused call ended')).toMatchObject({
      id: unknown.id, phone: '+77019999999', clientId: null, outcome: 'refused:unknown', actions: ['refused: unknown'],
    });
    const foreign = sim.call({ number: '4930123456789012345678901234567890123' });
    await foreign.waitForEnd();
    const row = await lastCall(fx, (c) => c.id === foreign.id && c.endedAt !== null, 'the foreign call ended');
    expect(row.phone).toBe('4930123456789012345678901234567890123'.slice(0, 32));
  });

  it('alarm call-outs are listed with their event, round and result: one unanswered, one acknowledged', async () => {
    const { fx, sim, tel } = await rig();
    const { clientId } = await seedClient(fx);
    await fx.core.addNumber({ clientId, phone: '87051112233', signed: true, operator: 'op' });
    fx.db.prepare('UPDATE objects SET callout_enabled = 1').run();
    sim.onOriginate = (endpoint) => ({ kind: endpoint.includes('77011234567') ? 'no-answer' : 'answer' });
    const answerer = setInterval(() => {
      for (const c of sim.answered) if (!c.isEnded && c.prompts.some((p) => p.endsWith('alarm-press-1'))) void c.press('1');
    }, 20);
    cleanups.push(() => clearInterval(answerer));
    const r = await fx.core.recordMonitoringEvent({ sourceId: 'h1', objectCode: '1234', type: 'alarm', kind: 'burglary', zone: 1, eventAt: new Date().toISOString() });
    const [plan] = await fx.core.takeCallouts();
    expect(plan?.contacts.map((c) => c.phone)).toEqual(['+77011234567', '+77051112233']);
    const out = await runAlarmCalls(plan!, { core: fx.core, callOut: (q) => tel.callOut({ ...q, ringSec: 1 }), logger: quietLogger, rounds: 1, ackTimeoutMs: 10_000 });
    expect(out.acknowledgedBy).toBe('+77051112233');
    await until(async () => (await fx.core.listCalls({ purpose: 'alarm' })).every((c) => c.endedAt !== null), 5_000, 'call-outs ended in the history');
    const calls = await fx.core.listCalls({ purpose: 'alarm', objectCode: '1234' });
    expect(calls.map((c) => [c.phone, c.outcome, c.eventId, c.round, c.direction, c.answeredAt !== null])).toEqual([
      ['+77051112233', 'acknowledged', r.row.id, 1, 'out', true],
      ['+77011234567', 'no-answer', r.row.id, 1, 'out', false],
    ]);
    expect(calls[0]!.actions).toEqual(['key 1: acknowledged']);
    expect(calls[0]!.clientId).toBe(plan!.clientId);
  });

  it('a history that cannot be written is logged and the call goes on', async () => {
    const logs: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
    const { fx, sim } = await setupSeeded({}, { logger: createLogger('warn', sink) });
    fx.db.exec('DROP TABLE calls');
    // the caller is served as always: status, then goodbye with key 9
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    await call.press('9');
    await call.waitForEnd();
    expect(ids(call)).toEqual(expect.arrayContaining(['status-disarmed', 'main-menu', 'goodbye']));
    expect((await fx.core.searchJournal({ action: 'status', channel: 'phone' }))[0]).toMatchObject({ phone: '+77011234567' });
    await until(() => logs.filter((l) => l.includes('the call history could not be written')).length >= 2, 5_000, 'start and end logged');
  });

  it('a call cut by a dropped ARI link, and one cut by shutdown, still get an end', async () => {
    const { fx, sim, tel } = await setupSeeded();
    const call = sim.call({ number: '87011234567' });
    await menu(call);
    sim.dropWebSockets();
    expect(await lastCall(fx, (c) => c.endedAt !== null, 'the dropped call ended')).toMatchObject({ id: call.id, outcome: 'ari-disconnected' });
    await until(() => tel.link.isConnected(), 10_000, 'reconnected');
    const next = sim.call({ number: '87011234567' });
    await menu(next);
    await tel.stop(50);
    expect((await fx.core.listCalls({ limit: 1 }))[0]).toMatchObject({ id: next.id, outcome: 'shutdown', endedAt: expect.any(String) });
  });
});
