import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.close());

function journalCount(): number {
  return (fx.db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
}

async function expectAppError(fn: () => unknown, code: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

/** Snapshot of every table but the journal, to prove a refusal changed nothing else. */
function snapshot(): string {
  const tables = ['clients', 'objects', 'numbers', 'number_objects', 'challenges', 'outbox', 'ledger', 'otp_sends'];
  return JSON.stringify(tables.map((t) => fx.db.prepare(`SELECT * FROM ${t}`).all()));
}

describe('identification', () => {
  it('identifies an active number in any notation and lists its objects', async () => {
    const { clientId } = await seedClient(fx, { codes: ['1234', '5678'] });
    for (const raw of ['+77011234567', '87011234567', '77011234567', '7011234567', '+7 (701) 123-45-67']) {
      const id = await fx.core.identify(raw);
      expect(id.ok).toBe(true);
      if (id.ok) {
        expect(id.client.id).toBe(clientId);
        expect(id.objects.map((o) => o.code)).toEqual(['1234', '5678']);
      }
    }
  });

  it('refuses unknown, pending, blocked and suspended numbers with the reason', async () => {
    const { clientId } = await seedClient(fx);
    expect(await fx.core.identify('87019999999')).toMatchObject({ ok: false, reason: 'unknown', phone: '+77019999999' });
    expect(await fx.core.identify('garbage')).toMatchObject({ ok: false, reason: 'unknown', phone: null });
    expect(await fx.core.identify(null)).toMatchObject({ ok: false, reason: 'unknown' });
    await fx.core.addNumber({ clientId, phone: '87021112233', operator: 'op' });
    expect(await fx.core.identify('87021112233')).toMatchObject({ ok: false, reason: 'pending' });
    await fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    expect(await fx.core.identify('87011234567')).toMatchObject({ ok: false, reason: 'blocked' });
    await fx.core.unblockNumber({ phone: '87011234567', operator: 'op' });
    await fx.store.transaction(async (tx) => tx.setSuspended(clientId, fx.clock.now().toISOString()));
    expect(await fx.core.identify('87011234567')).toMatchObject({ ok: false, reason: 'suspended' });
  });

  it('limits a number to the objects it was given', async () => {
    const { clientId } = await seedClient(fx, { codes: ['1111', '2222'] });
    await fx.core.addNumber({ clientId, phone: '87051112233', objectCodes: ['2222'], signed: true, operator: 'op' });
    const id = await fx.core.identify('87051112233');
    expect(id.ok && id.objects.map((o) => o.code)).toEqual(['2222']);
    const r = await fx.core.request({ channel: 'sms', phone: '87051112233', action: 'arm', objectCode: '1111' });
    expect(r).toMatchObject({ kind: 'refused', reason: 'object-not-allowed' });
    expect((await fx.core.getObject('1111')).status).toBe('disarmed');
  });
});

describe('status, arm and disarm', () => {
  it('arms without a code and journals it; a second arm changes nothing', async () => {
    await seedClient(fx);
    const r = await fx.core.request({ channel: 'phone', phone: '87011234567', action: 'arm' });
    expect(r).toMatchObject({ kind: 'done', action: 'arm', changed: true, object: { code: '1234', status: 'armed' } });
    expect(fx.events).toContainEqual(expect.objectContaining({ type: 'object-status', objectCode: '1234', status: 'armed' }));
    const again = await fx.core.request({ channel: 'phone', phone: '87011234567', action: 'arm' });
    expect(again).toMatchObject({ kind: 'done', changed: false });
    const rows = await fx.core.searchJournal({ objectCode: '1234', action: 'arm' });
    expect(rows.map((x) => [x.channel, x.auth, x.outcome, x.phone])).toEqual([
      ['phone', 'caller-id', 'executed', '+77011234567'],
      ['phone', 'caller-id', 'executed', '+77011234567'],
    ]);
  });

  it('status lists every object; with a code, one object', async () => {
    await seedClient(fx, { codes: ['1234', '5678'] });
    const all = await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'status' });
    expect(all.kind === 'status' && all.objects.map((o) => o.code)).toEqual(['1234', '5678']);
    const one = await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'status', objectCode: '5678' });
    expect(one.kind === 'status' && one.objects.map((o) => o.code)).toEqual(['5678']);
  });

  it('asks which object when the client has several', async () => {
    await seedClient(fx, { codes: ['1234', '5678'] });
    const r = await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'arm' });
    expect(r).toMatchObject({ kind: 'refused', reason: 'object-ambiguous', objectCodes: ['1234', '5678'] });
  });

  it('never touches another client\'s object and does not reveal it exists', async () => {
    await seedClient(fx);
    await seedClient(fx, { phone: '+77021234567', codes: ['9999'] });
    const before = snapshot();
    const theirs = await fx.core.request({ channel: 'app', phone: '87011234567', action: 'arm', objectCode: '9999' });
    const none = await fx.core.request({ channel: 'app', phone: '87011234567', action: 'arm', objectCode: '4444' });
    expect(theirs).toMatchObject({ kind: 'refused', reason: 'object-not-allowed' });
    expect(none).toMatchObject({ kind: 'refused', reason: 'no-object' });
    expect(snapshot()).toBe(before);
    expect((await fx.core.getObject('9999')).status).toBe('disarmed');
  });

  it('disarm needs the code sent to the trusted number; the code executes it once', async () => {
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const r = await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    expect(r.kind).toBe('challenge');
    expect((await fx.core.getObject('1234')).status).toBe('armed');
    expect(fx.signals).toBeGreaterThan(0);
    const out = await fx.core.listOutbox({ limit: 5 });
    expect(out[0]).toMatchObject({ kind: 'otp', priority: 0, phone: '+77011234567', secret: true, text: '[code hidden]', body: null });
    const code = await fx.lastCode('+77011234567');
    const done = await fx.core.confirm({ channel: 'sms', phone: '87011234567', code });
    expect(done).toMatchObject({ kind: 'done', purpose: 'disarm', changed: true, object: { status: 'disarmed' } });
    const replay = await fx.core.confirm({ channel: 'sms', phone: '87011234567', code, challengeId: r.kind === 'challenge' ? r.challengeId : '' });
    expect(replay).toMatchObject({ kind: 'refused', reason: 'code-used' });
    const rows = await fx.core.searchJournal({ objectCode: '1234', action: 'disarm' });
    expect(rows[0]).toMatchObject({ outcome: 'executed', auth: 'otp', challengeId: r.kind === 'challenge' ? r.challengeId : 'x' });
    expect(rows[1]).toMatchObject({ outcome: 'challenged', auth: 'sender' });
    // the code itself is nowhere in the database
    const dump = JSON.stringify(fx.db.prepare('SELECT * FROM journal').all()) + JSON.stringify(fx.db.prepare('SELECT * FROM challenges').all());
    expect(dump).not.toContain(code);
  });

  it('a code is bound to its document: another object, action or sign-in cannot use it', async () => {
    await seedClient(fx, { codes: ['1111', '2222'] });
    const a = await fx.core.request({ channel: 'app', phone: '87011234567', action: 'disarm', objectCode: '1111' });
    const codeA = await fx.lastCode('+77011234567');
    fx.clock.advance(61_000);
    const b = await fx.core.request({ channel: 'app', phone: '87011234567', action: 'disarm', objectCode: '2222' });
    const codeB = await fx.lastCode('+77011234567');
    expect(codeA).not.toBe(codeB);
    if (a.kind !== 'challenge' || b.kind !== 'challenge') throw new Error('expected challenges');
    expect(await fx.core.confirm({ channel: 'app', phone: '87011234567', code: codeA, challengeId: b.challengeId })).toMatchObject({ reason: 'code-wrong' });
    fx.clock.advance(61_000);
    const s = await fx.core.requestSignIn({ channel: 'app', phone: '87011234567' });
    if (s.kind !== 'sent') throw new Error('expected a sign-in code');
    expect(await fx.core.confirm({ channel: 'app', phone: '87011234567', code: codeA, challengeId: s.challengeId })).toMatchObject({ reason: 'code-wrong' });
    expect(await fx.core.confirm({ channel: 'app', phone: '87011234567', code: codeA, challengeId: a.challengeId })).toMatchObject({ kind: 'done', object: { code: '1111' } });
    expect((await fx.core.getObject('2222')).status).toBe('disarmed');
  });

  it('a code must come back on the channel it was asked on and from the same number', async () => {
    await seedClient(fx);
    await seedClient(fx, { phone: '+77021234567', codes: ['9999'] });
    const r = await fx.core.request({ channel: 'phone', phone: '87011234567', action: 'disarm' });
    if (r.kind !== 'challenge') throw new Error('expected a challenge');
    const code = await fx.lastCode('+77011234567');
    expect(await fx.core.confirm({ channel: 'sms', phone: '87011234567', code })).toMatchObject({ reason: 'no-pending' });
    expect(await fx.core.confirm({ channel: 'phone', phone: '87021234567', code, challengeId: r.challengeId })).toMatchObject({ reason: 'no-pending' });
    expect(await fx.core.confirm({ channel: 'phone', phone: '87011234567', code })).toMatchObject({ kind: 'done' });
  });

  it('three wrong codes kill the challenge; the right code then fails', async () => {
    await seedClient(fx);
    await fx.core.request({ channel: 'phone', phone: '87011234567', action: 'disarm' });
    const code = await fx.lastCode('+77011234567');
    const wrong = code === '000000' ? '111111' : '000000';
    expect(await fx.core.confirm({ channel: 'phone', phone: '87011234567', code: wrong })).toMatchObject({ reason: 'code-wrong', attemptsLeft: 2 });
    expect(await fx.core.confirm({ channel: 'phone', phone: '87011234567', code: 'garbage' })).toMatchObject({ reason: 'code-wrong', attemptsLeft: 1 });
    expect(await fx.core.confirm({ channel: 'phone', phone: '87011234567', code: wrong })).toMatchObject({ reason: 'code-dead' });
    expect(await fx.core.confirm({ channel: 'phone', phone: '87011234567', code })).toMatchObject({ reason: 'no-pending' });
    expect((await fx.core.getObject('1234')).status).toBe('disarmed'); // it never was armed; nothing executed
    expect(await fx.core.searchJournal({ action: 'disarm', outcome: 'executed' })).toHaveLength(0);
  });

  it('an expired code is refused', async () => {
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const r = await fx.core.request({ channel: 'chat', phone: '87011234567', action: 'disarm' });
    if (r.kind !== 'challenge') throw new Error('expected a challenge');
    const code = await fx.lastCode('+77011234567');
    fx.clock.advance(5 * 60_000);
    expect(await fx.core.confirm({ channel: 'chat', phone: '87011234567', code, challengeId: r.challengeId })).toMatchObject({ reason: 'code-expired' });
    expect((await fx.core.getObject('1234')).status).toBe('armed');
  });

  it('pauses a re-send only while the same document\'s code is pending; a used code never delays', async () => {
    await seedClient(fx, { codes: ['1111', '2222'] });
    const phone = '87011234567';
    expect((await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1111' })).kind).toBe('challenge');
    const soon = await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1111' });
    expect(soon).toMatchObject({ kind: 'refused', reason: 'rate-limited', limit: 'pause', retryAfterMs: 60_000 });
    // another object, or the same one on another channel, is another request: no pause
    expect((await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '2222' })).kind).toBe('challenge');
    expect((await fx.core.request({ channel: 'phone', phone, action: 'disarm', objectCode: '1111' })).kind).toBe('challenge');
    fx.clock.advance(5_000);
    expect(await fx.core.confirm({ channel: 'phone', phone, code: await fx.lastCode('+77011234567') })).toMatchObject({ kind: 'done' });
    // the phone code was used: the next phone disarm gets its code at once
    expect((await fx.core.request({ channel: 'phone', phone, action: 'disarm', objectCode: '1111' })).kind).toBe('challenge');
    fx.clock.advance(55_000);
    expect((await fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1111' })).kind).toBe('challenge');
    expect(await fx.core.listAlerts()).toEqual([]);
  });

  it('sign-in codes and action codes have separate budgets; a flood is alerted and journalled once per window', async () => {
    await seedClient(fx);
    const phone = '87011234567';
    const sent = async (): Promise<number> => (await fx.core.listOutbox({ limit: 1000 })).filter((r) => r.kind === 'otp').length;
    const before = journalCount();
    // a stranger asks for 20 sign-in codes, one a minute (each previous one still pending)
    const answers: Array<'sent' | 'pause' | 'budget' | undefined> = [];
    for (let i = 0; i < 20; i++) {
      const r = await fx.core.requestSignIn({ channel: 'app', phone });
      fx.clock.advance(61_000);
      answers.push(r.kind === 'sent' ? 'sent' : r.limit);
    }
    expect(answers.filter((a) => a === 'sent')).toHaveLength(3);
    expect(answers.filter((a) => a === 'budget')).toHaveLength(17);
    expect(await sent()).toBe(3);
    // one alert, one journal record for the flood, none for each refused request
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'code-flood', phone: '+77011234567', detail: expect.stringMatching(/^code flood on \+7701\*+67: sign-in/) })]);
    const floods = await fx.core.searchJournal({ action: 'operator-alert' });
    expect(floods).toHaveLength(1);
    expect(floods[0]).toMatchObject({ reason: 'code-flood', phone: '+77011234567' });
    expect(journalCount()).toBe(before + 3 + 1);
    // the client's disarms all get their codes: the action budget is whole (ceiling 10 - sign-in 3)
    for (let i = 0; i < 7; i++) {
      const r = await fx.core.request({ channel: 'sms', phone, action: 'disarm' });
      expect(r.kind).toBe('challenge');
      await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode('+77011234567') });
      fx.clock.advance(5_000);
    }
    expect(await sent()).toBe(10);
    // the 8th action is over its budget: refused with the time to wait, and a second flood (action) alert
    const over = await fx.core.request({ channel: 'sms', phone, action: 'disarm' });
    expect(over).toMatchObject({ kind: 'refused', reason: 'rate-limited', limit: 'budget' });
    expect(over.kind === 'refused' && over.retryAfterMs).toBeGreaterThan(0);
    await fx.core.request({ channel: 'sms', phone, action: 'disarm' });
    expect((await fx.core.listAlerts()).map((a) => a.detail?.replace(/^code flood on \S+: (\S+).*$/, '$1'))).toEqual(['action', 'sign-in']);
    // a new window: the flood is noted again
    fx.clock.advance(3_600_000);
    for (let i = 0; i < 4; i++) await fx.core.requestSignIn({ channel: 'app', phone });
    expect((await fx.core.listAlerts()).filter((a) => a.kind === 'code-flood')).toHaveLength(2);
    fx.clock.advance(61_000 * 3);
    for (let i = 0; i < 4; i++) {
      await fx.core.requestSignIn({ channel: 'app', phone });
      fx.clock.advance(61_000);
    }
    expect((await fx.core.listAlerts()).filter((a) => a.kind === 'code-flood')).toHaveLength(3);
  });

  it('the ceiling on code SMS per number per hour is an operator setting, journalled and bounded', async () => {
    await seedClient(fx);
    const phone = '87011234567';
    expect(await fx.core.otpLimits()).toEqual({ ceilingPerHour: 10, budgets: { 'sign-in': 3, action: 7 }, resendPauseSeconds: 60 });
    await expect(async () => fx.core.setOtpCeiling({ perHour: 5, operator: 'admin' })).rejects.toThrow(/from 6 to 100/);
    expect(await fx.core.setOtpCeiling({ perHour: 6, operator: 'admin' })).toMatchObject({ ceilingPerHour: 6, budgets: { 'sign-in': 3, action: 3 } });
    expect((await fx.core.searchJournal({ action: 'setting-change' }))[0]).toMatchObject({ operator: 'admin', detail: 'otp.ceiling_per_hour=6 was=10' });
    // every process sees it: it is in the database
    expect(fx.db.prepare('SELECT value FROM settings WHERE key = ?').get('otp.ceiling_per_hour')).toEqual({ value: '6' });
    const kinds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await fx.core.request({ channel: 'sms', phone, action: 'disarm' });
      kinds.push(r.kind);
      if (r.kind === 'challenge') await fx.core.confirm({ channel: 'sms', phone, code: await fx.lastCode('+77011234567') });
    }
    expect(kinds).toEqual(['challenge', 'challenge', 'challenge', 'refused', 'refused']);
    await fx.core.setOtpCeiling({ perHour: 12, operator: 'admin' });
    expect((await fx.core.request({ channel: 'sms', phone, action: 'disarm' })).kind).toBe('challenge');
  });

  it('blocking a number kills its pending codes at once', async () => {
    await seedClient(fx);
    await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    const code = await fx.lastCode('+77011234567');
    await fx.core.blockNumber({ phone: '+77011234567', reason: 'lost', operator: 'op' });
    expect(await fx.core.confirm({ channel: 'sms', phone: '87011234567', code })).toMatchObject({ kind: 'refused', reason: 'blocked' });
    await fx.core.unblockNumber({ phone: '+77011234567', operator: 'op' });
    expect(await fx.core.confirm({ channel: 'sms', phone: '87011234567', code })).toMatchObject({ kind: 'refused', reason: 'no-pending' });
    expect(fx.db.prepare("SELECT state FROM challenges").all()).toEqual([{ state: 'revoked' }]);
  });

  it('refused requests from unknown and blocked numbers are journalled and change nothing but raise one access alert', async () => {
    await seedClient(fx);
    await fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    const before = snapshot();
    const n = journalCount();
    expect(await fx.core.request({ channel: 'sms', phone: '87019998877', action: 'disarm', objectCode: '1234' })).toMatchObject({ reason: 'unknown' });
    expect(snapshot()).toBe(before); // an unknown number changes nothing and gets nothing
    expect(await fx.core.request({ channel: 'phone', phone: '87011234567', action: 'status' })).toMatchObject({ reason: 'blocked' });
    expect(await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'status' })).toMatchObject({ reason: 'blocked' });
    expect(await fx.core.request({ channel: 'phone', phone: 'anonymous', action: 'status' })).toMatchObject({ reason: 'unknown' });
    expect((await fx.core.searchJournal({ outcome: 'refused', limit: 4 })).map((r) => r.reason)).toEqual(['unknown', 'blocked', 'blocked', 'unknown']);
    // the blocked number's use raised one alert (rate-limited) and told the client
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'access', phone: '+77011234567', detail: 'blocked number used on phone' })]);
    const sms = await fx.core.listOutbox({ limit: 10 });
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({ kind: 'access-alert', phone: '+77011234567', priority: 1 });
    expect(sms[0]?.text).not.toMatch(/\d{6}/);
    expect(journalCount()).toBe(n + 5);
    expect(fx.db.prepare('SELECT status FROM objects').get()).toEqual({ status: 'disarmed' });
  });

  it('three wrong codes raise an access alert to the client\'s other numbers', async () => {
    const { clientId } = await seedClient(fx);
    await fx.core.addNumber({ clientId, phone: '87051112233', signed: true, operator: 'op' });
    await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    const code = await fx.lastCode('+77011234567');
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) await fx.core.confirm({ channel: 'sms', phone: '87011234567', code: wrong });
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'access', phone: '+77011234567' })]);
    expect((await fx.core.listOutbox({ limit: 10 })).filter((m) => m.kind === 'access-alert').map((m) => m.phone)).toEqual(['+77051112233']);
  });

  it('a suspended client is refused', async () => {
    const { clientId } = await seedClient(fx);
    await fx.store.transaction(async (tx) => tx.setSuspended(clientId, fx.clock.now().toISOString()));
    expect(await fx.core.request({ channel: 'app', phone: '87011234567', action: 'arm' })).toMatchObject({ kind: 'refused', reason: 'suspended' });
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
  });
});

describe('trusted number lifecycle', () => {
  it('a pending number becomes active with the code sent to it', async () => {
    const c = await fx.core.addClient({ name: 'A', operator: 'op' });
    await fx.core.addObject({ clientId: c.id, code: '1234', address: 'x', operator: 'op' });
    const r = await fx.core.addNumber({ clientId: c.id, phone: '8 701 123 45 67', operator: 'op' });
    expect(r.number).toMatchObject({ phone: '+77011234567', state: 'pending' });
    expect(r.challengeId).toBeTruthy();
    const code = await fx.lastCode('+77011234567');
    expect(await fx.core.confirmNumber({ phone: '87011234567', code: 'abc', operator: 'op' })).toMatchObject({ kind: 'refused', reason: 'code-wrong', attemptsLeft: 2 });
    expect(await fx.core.identify('87011234567')).toMatchObject({ reason: 'pending' });
    expect(await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'arm' })).toMatchObject({ kind: 'refused', reason: 'pending' });
    expect(await fx.core.confirmNumber({ phone: '87011234567', code, operator: 'op' })).toMatchObject({ kind: 'done', purpose: 'confirm-number', changed: true });
    expect((await fx.core.identify('87011234567')).ok).toBe(true);
    expect(fx.events).toContainEqual(expect.objectContaining({ type: 'number-state', state: 'active' }));
  });

  it('confirms by the operator with the right code; the client can also confirm by SMS reply', async () => {
    const c = await fx.core.addClient({ name: 'A', operator: 'op' });
    await fx.core.addNumber({ clientId: c.id, phone: '87011234567', operator: 'op' });
    const code = await fx.lastCode('+77011234567');
    expect(await fx.core.confirmNumber({ phone: '87011234567', code, operator: 'op' })).toMatchObject({ kind: 'done', purpose: 'confirm-number' });
    expect((await fx.core.identify('87011234567')).ok).toBe(true);
    await fx.core.addNumber({ clientId: c.id, phone: '87021234567', operator: 'op' });
    const code2 = await fx.lastCode('+77021234567');
    expect(await fx.core.confirm({ channel: 'sms', phone: '87021234567', code: code2 })).toMatchObject({ kind: 'done', purpose: 'confirm-number' });
    expect((await fx.core.identify('87021234567')).ok).toBe(true);
  });

  it('a number is unique across clients while it is not removed', async () => {
    const a = await seedClient(fx);
    const b = await fx.core.addClient({ name: 'B', operator: 'op' });
    const before = snapshot();
    await expectAppError(async () => fx.core.addNumber({ clientId: b.id, phone: '87011234567', signed: true, operator: 'op' }), 'NUMBER_TAKEN');
    expect(snapshot()).toBe(before);
    await fx.core.removeNumber({ phone: '87011234567', operator: 'op' });
    await fx.core.addNumber({ clientId: b.id, phone: '87011234567', signed: true, operator: 'op' });
    const id = await fx.core.identify('87011234567');
    expect(id.ok && id.client.id).toBe(b.id);
    expect(id.ok && id.objects).toEqual([]);
    expect(a.clientId).not.toBe(b.id);
  });

  it('change moves the objects to the new number and removes the old one', async () => {
    const { clientId } = await seedClient(fx, { codes: ['1111', '2222'] });
    await fx.core.addNumber({ clientId, phone: '87051112233', objectCodes: ['2222'], signed: true, operator: 'op' });
    const r = await fx.core.changeNumber({ phone: '87051112233', to: '87771112233', operator: 'op' });
    expect(r.number).toMatchObject({ phone: '+77771112233', state: 'pending', allObjects: false, objectCodes: ['2222'] });
    expect(await fx.core.identify('87051112233')).toMatchObject({ ok: false, reason: 'unknown' });
    await fx.core.confirmNumber({ phone: '87771112233', code: await fx.lastCode('+77771112233'), operator: 'op' });
    const id = await fx.core.identify('87771112233');
    expect(id.ok && id.objects.map((o) => o.code)).toEqual(['2222']);
  });

  it('rejects bad input and changes nothing', async () => {
    const { clientId } = await seedClient(fx);
    const other = await seedClient(fx, { phone: '+77021234567', codes: ['9999'] });
    const before = snapshot();
    const n = journalCount();
    await expectAppError(async () => fx.core.addNumber({ clientId, phone: '+7 916 123 45 67', operator: 'op' }), 'BAD_PHONE');
    await expectAppError(async () => fx.core.addNumber({ clientId, phone: '87272500000', operator: 'op' }), 'BAD_PHONE');
    await expectAppError(async () => fx.core.addNumber({ clientId: 999, phone: '87051234567', operator: 'op' }), 'CLIENT_NOT_FOUND');
    await expectAppError(async () => fx.core.addNumber({ clientId, phone: '87051234567', objectCodes: ['9999'], operator: 'op' }), 'OBJECT_NOT_ALLOWED');
    await expectAppError(async () => fx.core.addNumber({ clientId, phone: '87051234567', objectCodes: ['4444'], operator: 'op' }), 'OBJECT_NOT_FOUND');
    await expectAppError(async () => fx.core.addObject({ clientId, code: '9999', address: 'x', operator: 'op' }), 'OBJECT_CODE_TAKEN');
    await expectAppError(async () => fx.core.addObject({ clientId, code: '12', address: 'x', operator: 'op' }), 'BAD_INPUT');
    await expectAppError(async () => fx.core.addObject({ clientId, code: '12ab', address: 'x', operator: 'op' }), 'BAD_INPUT');
    await expectAppError(async () => fx.core.addClient({ name: '  ', operator: 'op' }), 'BAD_INPUT');
    await expectAppError(async () => fx.core.pay({ clientId, amount: -5, operator: 'op' }), 'BAD_AMOUNT');
    await expectAppError(async () => fx.core.pay({ clientId, amount: 1.5, operator: 'op' }), 'BAD_AMOUNT');
    await expectAppError(async () => fx.core.pay({ clientId: 999, amount: 100, operator: 'op' }), 'CLIENT_NOT_FOUND');
    await expectAppError(async () => fx.core.blockNumber({ phone: '87059999999', reason: 'lost', operator: 'op' }), 'NUMBER_NOT_FOUND');
    await expectAppError(async () => fx.core.unblockNumber({ phone: '87011234567', operator: 'op' }), 'NUMBER_STATE');
    await expectAppError(async () => fx.core.confirmNumber({ phone: '87011234567', code: '123456', operator: 'op' }), 'NUMBER_STATE');
    await expectAppError(async () => fx.core.operatorRequest({ action: 'arm', objectCode: '4444', operator: 'op' }), 'OBJECT_NOT_FOUND');
    await expectAppError(async () => fx.core.changeNumber({ phone: '87011234567', to: '87021234567', operator: 'op' }), 'NUMBER_TAKEN');
    expect(snapshot()).toBe(before);
    expect(journalCount()).toBe(n);
    expect(other.clientId).toBeGreaterThan(0);
  });
});

describe('money and journal', () => {
  it('payments add to the balance once per reference', async () => {
    const { clientId } = await seedClient(fx);
    expect(await fx.core.pay({ clientId, amount: 10_000, operator: 'op', ref: 'bank-1' })).toMatchObject({ duplicate: false, client: { balance: 10_000 } });
    expect(await fx.core.pay({ clientId, amount: 10_000, operator: 'op', ref: 'bank-1' })).toMatchObject({ duplicate: true, client: { balance: 10_000 } });
    expect(fx.db.prepare('SELECT COUNT(*) AS n FROM ledger').get()).toEqual({ n: 1 });
  });

  it('every operator action names the operator', async () => {
    await seedClient(fx);
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'Aigerim' });
    expect((await fx.core.searchJournal({ action: 'arm' }))[0]).toMatchObject({ channel: 'operator', auth: 'operator', operator: 'Aigerim' });
  });

  it('the journal is append-only and verifies', async () => {
    await seedClient(fx);
    await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'arm' });
    expect(await fx.core.verifyJournal()).toMatchObject({ ok: true, checked: journalCount() });
    expect(() => fx.db.prepare("UPDATE journal SET outcome = 'refused' WHERE seq = 1").run()).toThrow('append-only');
    expect(() => fx.db.prepare('DELETE FROM journal WHERE seq = 1').run()).toThrow('append-only');
  });
});
