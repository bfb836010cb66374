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

function expectAppError(fn: () => unknown, code: string): void {
  try {
    fn();
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
  it('identifies an active number in any notation and lists its objects', () => {
    const { clientId } = seedClient(fx, { codes: ['1234', '5678'] });
    for (const raw of ['+77011234567', '87011234567', '77011234567', '7011234567', '+7 (701) 123-45-67']) {
      const id = fx.core.identify(raw);
      expect(id.ok).toBe(true);
      if (id.ok) {
        expect(id.client.id).toBe(clientId);
        expect(id.objects.map((o) => o.code)).toEqual(['1234', '5678']);
      }
    }
  });

  it('refuses unknown, pending, blocked and suspended numbers with the reason', () => {
    const { clientId } = seedClient(fx);
    expect(fx.core.identify('87019999999')).toMatchObject({ ok: false, reason: 'unknown', phone: '+77019999999' });
    expect(fx.core.identify('garbage')).toMatchObject({ ok: false, reason: 'unknown', phone: null });
    expect(fx.core.identify(null)).toMatchObject({ ok: false, reason: 'unknown' });
    fx.core.addNumber({ clientId, phone: '87021112233', operator: 'op' });
    expect(fx.core.identify('87021112233')).toMatchObject({ ok: false, reason: 'pending' });
    fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    expect(fx.core.identify('87011234567')).toMatchObject({ ok: false, reason: 'blocked' });
    fx.core.unblockNumber({ phone: '87011234567', operator: 'op' });
    fx.store.setSuspended(clientId, fx.clock.now().toISOString());
    expect(fx.core.identify('87011234567')).toMatchObject({ ok: false, reason: 'suspended' });
  });

  it('limits a number to the objects it was given', () => {
    const { clientId } = seedClient(fx, { codes: ['1111', '2222'] });
    fx.core.addNumber({ clientId, phone: '87051112233', objectCodes: ['2222'], signed: true, operator: 'op' });
    const id = fx.core.identify('87051112233');
    expect(id.ok && id.objects.map((o) => o.code)).toEqual(['2222']);
    const r = fx.core.request({ channel: 'sms', phone: '87051112233', action: 'arm', objectCode: '1111' });
    expect(r).toMatchObject({ kind: 'refused', reason: 'object-not-allowed' });
    expect(fx.core.getObject('1111').status).toBe('disarmed');
  });
});

describe('status, arm and disarm', () => {
  it('arms without a code and journals it; a second arm changes nothing', () => {
    seedClient(fx);
    const r = fx.core.request({ channel: 'phone', phone: '87011234567', action: 'arm' });
    expect(r).toMatchObject({ kind: 'done', action: 'arm', changed: true, object: { code: '1234', status: 'armed' } });
    expect(fx.events).toContainEqual(expect.objectContaining({ type: 'object-status', objectCode: '1234', status: 'armed' }));
    const again = fx.core.request({ channel: 'phone', phone: '87011234567', action: 'arm' });
    expect(again).toMatchObject({ kind: 'done', changed: false });
    const rows = fx.core.searchJournal({ objectCode: '1234', action: 'arm' });
    expect(rows.map((x) => [x.channel, x.auth, x.outcome, x.phone])).toEqual([
      ['phone', 'caller-id', 'executed', '+77011234567'],
      ['phone', 'caller-id', 'executed', '+77011234567'],
    ]);
  });

  it('status lists every object; with a code, one object', () => {
    seedClient(fx, { codes: ['1234', '5678'] });
    const all = fx.core.request({ channel: 'sms', phone: '87011234567', action: 'status' });
    expect(all.kind === 'status' && all.objects.map((o) => o.code)).toEqual(['1234', '5678']);
    const one = fx.core.request({ channel: 'sms', phone: '87011234567', action: 'status', objectCode: '5678' });
    expect(one.kind === 'status' && one.objects.map((o) => o.code)).toEqual(['5678']);
  });

  it('asks which object when the client has several', () => {
    seedClient(fx, { codes: ['1234', '5678'] });
    const r = fx.core.request({ channel: 'sms', phone: '87011234567', action: 'arm' });
    expect(r).toMatchObject({ kind: 'refused', reason: 'object-ambiguous', objectCodes: ['1234', '5678'] });
  });

  it('never touches another client\'s object and does not reveal it exists', () => {
    seedClient(fx);
    seedClient(fx, { phone: '+77021234567', codes: ['9999'] });
    const before = snapshot();
    const theirs = fx.core.request({ channel: 'app', phone: '87011234567', action: 'arm', objectCode: '9999' });
    const none = fx.core.request({ channel: 'app', phone: '87011234567', action: 'arm', objectCode: '4444' });
    expect(theirs).toMatchObject({ kind: 'refused', reason: 'object-not-allowed' });
    expect(none).toMatchObject({ kind: 'refused', reason: 'no-object' });
    expect(snapshot()).toBe(before);
    expect(fx.core.getObject('9999').status).toBe('disarmed');
  });

  it('disarm needs the code sent to the trusted number; the code executes it once', () => {
    seedClient(fx);
    fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const r = fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    expect(r.kind).toBe('challenge');
    expect(fx.core.getObject('1234').status).toBe('armed');
    expect(fx.signals).toBeGreaterThan(0);
    const out = fx.core.listOutbox({ limit: 5 });
    expect(out[0]).toMatchObject({ kind: 'otp', priority: 0, phone: '+77011234567', secret: true, text: '[code hidden]', body: null });
    const code = fx.lastCode('+77011234567');
    const done = fx.core.confirm({ channel: 'sms', phone: '87011234567', code });
    expect(done).toMatchObject({ kind: 'done', purpose: 'disarm', changed: true, object: { status: 'disarmed' } });
    const replay = fx.core.confirm({ channel: 'sms', phone: '87011234567', code, challengeId: r.kind === 'challenge' ? r.challengeId : '' });
    expect(replay).toMatchObject({ kind: 'refused', reason: 'code-used' });
    const rows = fx.core.searchJournal({ objectCode: '1234', action: 'disarm' });
    expect(rows[0]).toMatchObject({ outcome: 'executed', auth: 'otp', challengeId: r.kind === 'challenge' ? r.challengeId : 'x' });
    expect(rows[1]).toMatchObject({ outcome: 'challenged', auth: 'sender' });
    // the code itself is nowhere in the database
    const dump = JSON.stringify(fx.db.prepare('SELECT * FROM journal').all()) + JSON.stringify(fx.db.prepare('SELECT * FROM challenges').all());
    expect(dump).not.toContain(code);
  });

  it('a code is bound to its document: another object, action or sign-in cannot use it', () => {
    seedClient(fx, { codes: ['1111', '2222'] });
    const a = fx.core.request({ channel: 'app', phone: '87011234567', action: 'disarm', objectCode: '1111' });
    const codeA = fx.lastCode('+77011234567');
    fx.clock.advance(61_000);
    const b = fx.core.request({ channel: 'app', phone: '87011234567', action: 'disarm', objectCode: '2222' });
    const codeB = fx.lastCode('+77011234567');
    expect(codeA).not.toBe(codeB);
    if (a.kind !== 'challenge' || b.kind !== 'challenge') throw new Error('expected challenges');
    expect(fx.core.confirm({ channel: 'app', phone: '87011234567', code: codeA, challengeId: b.challengeId })).toMatchObject({ reason: 'code-wrong' });
    fx.clock.advance(61_000);
    const s = fx.core.requestSignIn({ channel: 'app', phone: '87011234567' });
    if (s.kind !== 'sent') throw new Error('expected a sign-in code');
    expect(fx.core.confirm({ channel: 'app', phone: '87011234567', code: codeA, challengeId: s.challengeId })).toMatchObject({ reason: 'code-wrong' });
    expect(fx.core.confirm({ channel: 'app', phone: '87011234567', code: codeA, challengeId: a.challengeId })).toMatchObject({ kind: 'done', object: { code: '1111' } });
    expect(fx.core.getObject('2222').status).toBe('disarmed');
  });

  it('a code must come back on the channel it was asked on and from the same number', () => {
    seedClient(fx);
    seedClient(fx, { phone: '+77021234567', codes: ['9999'] });
    const r = fx.core.request({ channel: 'phone', phone: '87011234567', action: 'disarm' });
    if (r.kind !== 'challenge') throw new Error('expected a challenge');
    const code = fx.lastCode('+77011234567');
    expect(fx.core.confirm({ channel: 'sms', phone: '87011234567', code })).toMatchObject({ reason: 'no-pending' });
    expect(fx.core.confirm({ channel: 'phone', phone: '87021234567', code, challengeId: r.challengeId })).toMatchObject({ reason: 'no-pending' });
    expect(fx.core.confirm({ channel: 'phone', phone: '87011234567', code })).toMatchObject({ kind: 'done' });
  });

  it('three wrong codes kill the challenge; the right code then fails', () => {
    seedClient(fx);
    fx.core.request({ channel: 'phone', phone: '87011234567', action: 'disarm' });
    const code = fx.lastCode('+77011234567');
    const wrong = code === '000000' ? '111111' : '000000';
    expect(fx.core.confirm({ channel: 'phone', phone: '87011234567', code: wrong })).toMatchObject({ reason: 'code-wrong', attemptsLeft: 2 });
    expect(fx.core.confirm({ channel: 'phone', phone: '87011234567', code: 'garbage' })).toMatchObject({ reason: 'code-wrong', attemptsLeft: 1 });
    expect(fx.core.confirm({ channel: 'phone', phone: '87011234567', code: wrong })).toMatchObject({ reason: 'code-dead' });
    expect(fx.core.confirm({ channel: 'phone', phone: '87011234567', code })).toMatchObject({ reason: 'no-pending' });
    expect(fx.core.getObject('1234').status).toBe('disarmed'); // it never was armed; nothing executed
    expect(fx.core.searchJournal({ action: 'disarm', outcome: 'executed' })).toHaveLength(0);
  });

  it('an expired code is refused', () => {
    seedClient(fx);
    fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const r = fx.core.request({ channel: 'chat', phone: '87011234567', action: 'disarm' });
    if (r.kind !== 'challenge') throw new Error('expected a challenge');
    const code = fx.lastCode('+77011234567');
    fx.clock.advance(5 * 60_000);
    expect(fx.core.confirm({ channel: 'chat', phone: '87011234567', code, challengeId: r.challengeId })).toMatchObject({ reason: 'code-expired' });
    expect(fx.core.getObject('1234').status).toBe('armed');
  });

  it('pauses a re-send only while the same document\'s code is pending; a used code never delays', () => {
    seedClient(fx, { codes: ['1111', '2222'] });
    const phone = '87011234567';
    expect(fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1111' }).kind).toBe('challenge');
    const soon = fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1111' });
    expect(soon).toMatchObject({ kind: 'refused', reason: 'rate-limited', limit: 'pause', retryAfterMs: 60_000 });
    // another object, or the same one on another channel, is another request: no pause
    expect(fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '2222' }).kind).toBe('challenge');
    expect(fx.core.request({ channel: 'phone', phone, action: 'disarm', objectCode: '1111' }).kind).toBe('challenge');
    fx.clock.advance(5_000);
    expect(fx.core.confirm({ channel: 'phone', phone, code: fx.lastCode('+77011234567') })).toMatchObject({ kind: 'done' });
    // the phone code was used: the next phone disarm gets its code at once
    expect(fx.core.request({ channel: 'phone', phone, action: 'disarm', objectCode: '1111' }).kind).toBe('challenge');
    fx.clock.advance(55_000);
    expect(fx.core.request({ channel: 'sms', phone, action: 'disarm', objectCode: '1111' }).kind).toBe('challenge');
    expect(fx.core.listAlerts()).toEqual([]);
  });

  it('sign-in codes and action codes have separate budgets; a flood is alerted and journalled once per window', () => {
    seedClient(fx);
    const phone = '87011234567';
    const sent = (): number => fx.core.listOutbox({ limit: 1000 }).filter((r) => r.kind === 'otp').length;
    const before = journalCount();
    // a stranger asks for 20 sign-in codes, one a minute (each previous one still pending)
    const answers = Array.from({ length: 20 }, () => {
      const r = fx.core.requestSignIn({ channel: 'app', phone });
      fx.clock.advance(61_000);
      return r.kind === 'sent' ? 'sent' : r.limit;
    });
    expect(answers.filter((a) => a === 'sent')).toHaveLength(3);
    expect(answers.filter((a) => a === 'budget')).toHaveLength(17);
    expect(sent()).toBe(3);
    // one alert, one journal record for the flood, none for each refused request
    expect(fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'code-flood', phone: '+77011234567', detail: expect.stringMatching(/^code flood on \+7701\*+67: sign-in/) })]);
    const floods = fx.core.searchJournal({ action: 'operator-alert' });
    expect(floods).toHaveLength(1);
    expect(floods[0]).toMatchObject({ reason: 'code-flood', phone: '+77011234567' });
    expect(journalCount()).toBe(before + 3 + 1);
    // the client's disarms all get their codes: the action budget is whole (ceiling 10 - sign-in 3)
    for (let i = 0; i < 7; i++) {
      const r = fx.core.request({ channel: 'sms', phone, action: 'disarm' });
      expect(r.kind).toBe('challenge');
      fx.core.confirm({ channel: 'sms', phone, code: fx.lastCode('+77011234567') });
      fx.clock.advance(5_000);
    }
    expect(sent()).toBe(10);
    // the 8th action is over its budget: refused with the time to wait, and a second flood (action) alert
    const over = fx.core.request({ channel: 'sms', phone, action: 'disarm' });
    expect(over).toMatchObject({ kind: 'refused', reason: 'rate-limited', limit: 'budget' });
    expect(over.kind === 'refused' && over.retryAfterMs).toBeGreaterThan(0);
    fx.core.request({ channel: 'sms', phone, action: 'disarm' });
    expect(fx.core.listAlerts().map((a) => a.detail?.replace(/^code flood on \S+: (\S+).*$/, '$1'))).toEqual(['action', 'sign-in']);
    // a new window: the flood is noted again
    fx.clock.advance(3_600_000);
    for (let i = 0; i < 4; i++) fx.core.requestSignIn({ channel: 'app', phone });
    expect(fx.core.listAlerts().filter((a) => a.kind === 'code-flood')).toHaveLength(2);
    fx.clock.advance(61_000 * 3);
    for (let i = 0; i < 4; i++) {
      fx.core.requestSignIn({ channel: 'app', phone });
      fx.clock.advance(61_000);
    }
    expect(fx.core.listAlerts().filter((a) => a.kind === 'code-flood')).toHaveLength(3);
  });

  it('the ceiling on code SMS per number per hour is an operator setting, journalled and bounded', () => {
    seedClient(fx);
    const phone = '87011234567';
    expect(fx.core.otpLimits()).toEqual({ ceilingPerHour: 10, budgets: { 'sign-in': 3, action: 7 }, resendPauseSeconds: 60 });
    expect(() => fx.core.setOtpCeiling({ perHour: 5, operator: 'admin' })).toThrow(/from 6 to 100/);
    expect(fx.core.setOtpCeiling({ perHour: 6, operator: 'admin' })).toMatchObject({ ceilingPerHour: 6, budgets: { 'sign-in': 3, action: 3 } });
    expect(fx.core.searchJournal({ action: 'setting-change' })[0]).toMatchObject({ operator: 'admin', detail: 'otp.ceiling_per_hour=6 was=10' });
    // every process sees it: it is in the database
    expect(fx.db.prepare('SELECT value FROM settings WHERE key = ?').get('otp.ceiling_per_hour')).toEqual({ value: '6' });
    const kinds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = fx.core.request({ channel: 'sms', phone, action: 'disarm' });
      kinds.push(r.kind);
      if (r.kind === 'challenge') fx.core.confirm({ channel: 'sms', phone, code: fx.lastCode('+77011234567') });
    }
    expect(kinds).toEqual(['challenge', 'challenge', 'challenge', 'refused', 'refused']);
    fx.core.setOtpCeiling({ perHour: 12, operator: 'admin' });
    expect(fx.core.request({ channel: 'sms', phone, action: 'disarm' }).kind).toBe('challenge');
  });

  it('blocking a number kills its pending codes at once', () => {
    seedClient(fx);
    fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    const code = fx.lastCode('+77011234567');
    fx.core.blockNumber({ phone: '+77011234567', reason: 'lost', operator: 'op' });
    expect(fx.core.confirm({ channel: 'sms', phone: '87011234567', code })).toMatchObject({ kind: 'refused', reason: 'blocked' });
    fx.core.unblockNumber({ phone: '+77011234567', operator: 'op' });
    expect(fx.core.confirm({ channel: 'sms', phone: '87011234567', code })).toMatchObject({ kind: 'refused', reason: 'no-pending' });
    expect(fx.db.prepare("SELECT state FROM challenges").all()).toEqual([{ state: 'revoked' }]);
  });

  it('refused requests from unknown and blocked numbers are journalled and change nothing but raise one access alert', () => {
    seedClient(fx);
    fx.core.blockNumber({ phone: '87011234567', reason: 'stolen', operator: 'op' });
    const before = snapshot();
    const n = journalCount();
    expect(fx.core.request({ channel: 'sms', phone: '87019998877', action: 'disarm', objectCode: '1234' })).toMatchObject({ reason: 'unknown' });
    expect(snapshot()).toBe(before); // an unknown number changes nothing and gets nothing
    expect(fx.core.request({ channel: 'phone', phone: '87011234567', action: 'status' })).toMatchObject({ reason: 'blocked' });
    expect(fx.core.request({ channel: 'sms', phone: '87011234567', action: 'status' })).toMatchObject({ reason: 'blocked' });
    expect(fx.core.request({ channel: 'phone', phone: 'anonymous', action: 'status' })).toMatchObject({ reason: 'unknown' });
    expect(fx.core.searchJournal({ outcome: 'refused', limit: 4 }).map((r) => r.reason)).toEqual(['unknown', 'blocked', 'blocked', 'unknown']);
    // the blocked number's use raised one alert (rate-limited) and told the client
    expect(fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'access', phone: '+77011234567', detail: 'blocked number used on phone' })]);
    const sms = fx.core.listOutbox({ limit: 10 });
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({ kind: 'access-alert', phone: '+77011234567', priority: 1 });
    expect(sms[0]?.text).not.toMatch(/\d{6}/);
    expect(journalCount()).toBe(n + 5);
    expect(fx.db.prepare('SELECT status FROM objects').get()).toEqual({ status: 'disarmed' });
  });

  it('three wrong codes raise an access alert to the client\'s other numbers', () => {
    const { clientId } = seedClient(fx);
    fx.core.addNumber({ clientId, phone: '87051112233', signed: true, operator: 'op' });
    fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    const code = fx.lastCode('+77011234567');
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) fx.core.confirm({ channel: 'sms', phone: '87011234567', code: wrong });
    expect(fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'access', phone: '+77011234567' })]);
    expect(fx.core.listOutbox({ limit: 10 }).filter((m) => m.kind === 'access-alert').map((m) => m.phone)).toEqual(['+77051112233']);
  });

  it('a suspended client is refused', () => {
    const { clientId } = seedClient(fx);
    fx.store.setSuspended(clientId, fx.clock.now().toISOString());
    expect(fx.core.request({ channel: 'app', phone: '87011234567', action: 'arm' })).toMatchObject({ kind: 'refused', reason: 'suspended' });
    expect(fx.core.getObject('1234').status).toBe('disarmed');
  });
});

describe('trusted number lifecycle', () => {
  it('a pending number becomes active with the code sent to it', () => {
    const c = fx.core.addClient({ name: 'A', operator: 'op' });
    fx.core.addObject({ clientId: c.id, code: '1234', address: 'x', operator: 'op' });
    const r = fx.core.addNumber({ clientId: c.id, phone: '8 701 123 45 67', operator: 'op' });
    expect(r.number).toMatchObject({ phone: '+77011234567', state: 'pending' });
    expect(r.challengeId).toBeTruthy();
    const code = fx.lastCode('+77011234567');
    expect(fx.core.confirmNumber({ phone: '87011234567', code: 'abc', operator: 'op' })).toMatchObject({ kind: 'refused', reason: 'code-wrong', attemptsLeft: 2 });
    expect(fx.core.identify('87011234567')).toMatchObject({ reason: 'pending' });
    expect(fx.core.request({ channel: 'sms', phone: '87011234567', action: 'arm' })).toMatchObject({ kind: 'refused', reason: 'pending' });
    expect(fx.core.confirmNumber({ phone: '87011234567', code, operator: 'op' })).toMatchObject({ kind: 'done', purpose: 'confirm-number', changed: true });
    expect(fx.core.identify('87011234567').ok).toBe(true);
    expect(fx.events).toContainEqual(expect.objectContaining({ type: 'number-state', state: 'active' }));
  });

  it('confirms by the operator with the right code; the client can also confirm by SMS reply', () => {
    const c = fx.core.addClient({ name: 'A', operator: 'op' });
    fx.core.addNumber({ clientId: c.id, phone: '87011234567', operator: 'op' });
    const code = fx.lastCode('+77011234567');
    expect(fx.core.confirmNumber({ phone: '87011234567', code, operator: 'op' })).toMatchObject({ kind: 'done', purpose: 'confirm-number' });
    expect(fx.core.identify('87011234567').ok).toBe(true);
    fx.core.addNumber({ clientId: c.id, phone: '87021234567', operator: 'op' });
    const code2 = fx.lastCode('+77021234567');
    expect(fx.core.confirm({ channel: 'sms', phone: '87021234567', code: code2 })).toMatchObject({ kind: 'done', purpose: 'confirm-number' });
    expect(fx.core.identify('87021234567').ok).toBe(true);
  });

  it('a number is unique across clients while it is not removed', () => {
    const a = seedClient(fx);
    const b = fx.core.addClient({ name: 'B', operator: 'op' });
    const before = snapshot();
    expectAppError(() => fx.core.addNumber({ clientId: b.id, phone: '87011234567', signed: true, operator: 'op' }), 'NUMBER_TAKEN');
    expect(snapshot()).toBe(before);
    fx.core.removeNumber({ phone: '87011234567', operator: 'op' });
    fx.core.addNumber({ clientId: b.id, phone: '87011234567', signed: true, operator: 'op' });
    const id = fx.core.identify('87011234567');
    expect(id.ok && id.client.id).toBe(b.id);
    expect(id.ok && id.objects).toEqual([]);
    expect(a.clientId).not.toBe(b.id);
  });

  it('change moves the objects to the new number and removes the old one', () => {
    const { clientId } = seedClient(fx, { codes: ['1111', '2222'] });
    fx.core.addNumber({ clientId, phone: '87051112233', objectCodes: ['2222'], signed: true, operator: 'op' });
    const r = fx.core.changeNumber({ phone: '87051112233', to: '87771112233', operator: 'op' });
    expect(r.number).toMatchObject({ phone: '+77771112233', state: 'pending', allObjects: false, objectCodes: ['2222'] });
    expect(fx.core.identify('87051112233')).toMatchObject({ ok: false, reason: 'unknown' });
    fx.core.confirmNumber({ phone: '87771112233', code: fx.lastCode('+77771112233'), operator: 'op' });
    const id = fx.core.identify('87771112233');
    expect(id.ok && id.objects.map((o) => o.code)).toEqual(['2222']);
  });

  it('rejects bad input and changes nothing', () => {
    const { clientId } = seedClient(fx);
    const other = seedClient(fx, { phone: '+77021234567', codes: ['9999'] });
    const before = snapshot();
    const n = journalCount();
    expectAppError(() => fx.core.addNumber({ clientId, phone: '+7 916 123 45 67', operator: 'op' }), 'BAD_PHONE');
    expectAppError(() => fx.core.addNumber({ clientId, phone: '87272500000', operator: 'op' }), 'BAD_PHONE');
    expectAppError(() => fx.core.addNumber({ clientId: 999, phone: '87051234567', operator: 'op' }), 'CLIENT_NOT_FOUND');
    expectAppError(() => fx.core.addNumber({ clientId, phone: '87051234567', objectCodes: ['9999'], operator: 'op' }), 'OBJECT_NOT_ALLOWED');
    expectAppError(() => fx.core.addNumber({ clientId, phone: '87051234567', objectCodes: ['4444'], operator: 'op' }), 'OBJECT_NOT_FOUND');
    expectAppError(() => fx.core.addObject({ clientId, code: '9999', address: 'x', operator: 'op' }), 'OBJECT_CODE_TAKEN');
    expectAppError(() => fx.core.addObject({ clientId, code: '12', address: 'x', operator: 'op' }), 'BAD_INPUT');
    expectAppError(() => fx.core.addObject({ clientId, code: '12ab', address: 'x', operator: 'op' }), 'BAD_INPUT');
    expectAppError(() => fx.core.addClient({ name: '  ', operator: 'op' }), 'BAD_INPUT');
    expectAppError(() => fx.core.pay({ clientId, amount: -5, operator: 'op' }), 'BAD_AMOUNT');
    expectAppError(() => fx.core.pay({ clientId, amount: 1.5, operator: 'op' }), 'BAD_AMOUNT');
    expectAppError(() => fx.core.pay({ clientId: 999, amount: 100, operator: 'op' }), 'CLIENT_NOT_FOUND');
    expectAppError(() => fx.core.blockNumber({ phone: '87059999999', reason: 'lost', operator: 'op' }), 'NUMBER_NOT_FOUND');
    expectAppError(() => fx.core.unblockNumber({ phone: '87011234567', operator: 'op' }), 'NUMBER_STATE');
    expectAppError(() => fx.core.confirmNumber({ phone: '87011234567', code: '123456', operator: 'op' }), 'NUMBER_STATE');
    expectAppError(() => fx.core.operatorRequest({ action: 'arm', objectCode: '4444', operator: 'op' }), 'OBJECT_NOT_FOUND');
    expectAppError(() => fx.core.changeNumber({ phone: '87011234567', to: '87021234567', operator: 'op' }), 'NUMBER_TAKEN');
    expect(snapshot()).toBe(before);
    expect(journalCount()).toBe(n);
    expect(other.clientId).toBeGreaterThan(0);
  });
});

describe('money and journal', () => {
  it('payments add to the balance once per reference', () => {
    const { clientId } = seedClient(fx);
    expect(fx.core.pay({ clientId, amount: 10_000, operator: 'op', ref: 'bank-1' })).toMatchObject({ duplicate: false, client: { balance: 10_000 } });
    expect(fx.core.pay({ clientId, amount: 10_000, operator: 'op', ref: 'bank-1' })).toMatchObject({ duplicate: true, client: { balance: 10_000 } });
    expect(fx.db.prepare('SELECT COUNT(*) AS n FROM ledger').get()).toEqual({ n: 1 });
  });

  it('every operator action names the operator', () => {
    seedClient(fx);
    fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'Aigerim' });
    expect(fx.core.searchJournal({ action: 'arm' })[0]).toMatchObject({ channel: 'operator', auth: 'operator', operator: 'Aigerim' });
  });

  it('the journal is append-only and verifies', () => {
    seedClient(fx);
    fx.core.request({ channel: 'sms', phone: '87011234567', action: 'arm' });
    expect(fx.core.verifyJournal()).toMatchObject({ ok: true, checked: journalCount() });
    expect(() => fx.db.prepare("UPDATE journal SET outcome = 'refused' WHERE seq = 1").run()).toThrow('append-only');
    expect(() => fx.db.prepare('DELETE FROM journal WHERE seq = 1').run()).toThrow('append-only');
  });
});
