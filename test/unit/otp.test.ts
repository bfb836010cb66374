import { describe, expect, it } from 'vitest';
import { CEILING_RANGE, OTP_POLICY, budgets, codeClass, codeMatches, decideSend, generateCode, hashCode, normaliseCode } from '../../src/domain/otp.ts';
import type { SendDecision, SendFacts } from '../../src/domain/otp.ts';

const key = Buffer.alloc(32, 7);

describe('one-time codes', () => {
  it('have six digits, zero-padded', () => {
    expect(generateCode(() => 42)).toBe('000042');
    expect(generateCode((max) => max - 1)).toBe('999999');
  });

  it('are bound to their challenge', () => {
    const h = hashCode(key, 'doc-a', '123456');
    expect(codeMatches(key, 'doc-a', '123456', h)).toBe(true);
    expect(codeMatches(key, 'doc-b', '123456', h)).toBe(false);
    expect(codeMatches(key, 'doc-a', '123457', h)).toBe(false);
    expect(codeMatches(Buffer.alloc(32, 8), 'doc-a', '123456', h)).toBe(false);
    expect(h.toString('hex')).not.toContain('123456');
  });

  it.each([
    ['123456', '123456'],
    [' 123 456 ', '123456'],
    ['123-456', '123456'],
    ['12345', null],
    ['1234567', null],
    ['12345a', null],
    ['', null],
  ])('normalises %j', (input, out) => {
    expect(normaliseCode(input)).toBe(out);
  });

  it('have a sign-in class and an action class', () => {
    expect(codeClass('sign-in')).toBe('sign-in');
    for (const p of ['disarm', 'arm', 'confirm-number']) expect(codeClass(p)).toBe('action');
    expect(OTP_POLICY.maxAttempts).toBe(3);
  });
});

describe('the code sending policy', () => {
  const now = 10_000_000;
  const min = 60_000;
  const ago = (...ms: number[]): number[] => ms.map((m) => now - m);
  const pending = (createdAgo: number, ttl = OTP_POLICY.ttlMs): { createdAt: number; expiresAt: number } =>
    ({ createdAt: now - createdAgo, expiresAt: now - createdAgo + ttl });
  const facts = (f: Partial<SendFacts>): SendFacts => ({
    now, cls: 'action', pendingSame: [], sentAt: { 'sign-in': [], action: [] }, ceilingPerHour: 10, ...f,
  });
  const refused = (why: 'pause' | 'budget', retryAfterMs: number) => expect.objectContaining({ ok: false, why, retryAfterMs }) as unknown as SendDecision;

  it('shares the ceiling: sign-in a fixed few, actions all the rest; the ceiling is bounded', () => {
    expect(budgets(10)).toEqual({ 'sign-in': 3, action: 7 });
    expect(budgets(20)).toEqual({ 'sign-in': 3, action: 17 });
    expect(budgets(CEILING_RANGE.min)).toEqual({ 'sign-in': 3, action: 3 });
    expect(budgets(1)).toEqual(budgets(CEILING_RANGE.min));
    expect(budgets(10_000)).toEqual(budgets(CEILING_RANGE.max));
    for (let c = CEILING_RANGE.min; c <= CEILING_RANGE.max; c++) {
      const b = budgets(c);
      expect(b['sign-in'] + b.action).toBe(c);
      expect(b.action).toBeGreaterThanOrEqual(OTP_POLICY.minActionPerHour);
    }
  });

  it.each<[string, Partial<SendFacts>, SendDecision]>([
    ['nothing sent', {}, { ok: true }],
    ['sign-in then a disarm 5 s later (another purpose)', { sentAt: { 'sign-in': ago(5_000), action: [] } }, { ok: true }],
    ['a disarm 5 s after another disarm whose code was used', { sentAt: { 'sign-in': [], action: ago(5_000) } }, { ok: true }],
    ['a re-send 30 s after a pending code', { pendingSame: [pending(30_000)], sentAt: { 'sign-in': [], action: ago(30_000) } }, refused('pause', 30_000)],
    ['a re-send 60 s after a pending code', { pendingSame: [pending(min)], sentAt: { 'sign-in': [], action: ago(min) } }, { ok: true }],
    ['the pending code expired', { pendingSame: [pending(30_000, 20_000)] }, { ok: true }],
    ['the newest of two pending codes counts', { pendingSame: [pending(50_000), pending(10_000)] }, refused('pause', 50_000)],
    ['7 action codes in the hour', { sentAt: { 'sign-in': [], action: [1, 2, 3, 4, 5, 6, 7].map((i) => now - i * 5 * min) } }, refused('budget', 25 * min)],
    ['6 action codes in the hour', { sentAt: { 'sign-in': [], action: [1, 2, 3, 4, 5, 6].map((i) => now - i * 5 * min) } }, { ok: true }],
    ['7 action codes, the oldest just left the hour', { sentAt: { 'sign-in': [], action: [...ago(3_600_000), ...[1, 2, 3, 4, 5, 6].map((i) => now - i * min)] } }, { ok: true }],
    ['3 sign-in codes in the hour, a sign-in', { cls: 'sign-in', sentAt: { 'sign-in': ago(10 * min, 20 * min, 30 * min), action: [] } }, refused('budget', 30 * min)],
    ['20 sign-in codes asked, 3 sent: a disarm', { sentAt: { 'sign-in': ago(min, 2 * min, 3 * min), action: [] } }, { ok: true }],
    ['sign-in used up and 6 actions: a 7th action', { sentAt: { 'sign-in': ago(min, 2 * min, 3 * min), action: [4, 5, 6, 7, 8, 9].map((i) => now - i * min) } }, { ok: true }],
    ['actions used up: a sign-in still goes', { cls: 'sign-in', sentAt: { 'sign-in': [], action: [1, 2, 3, 4, 5, 6, 7].map((i) => now - i * min) } }, { ok: true }],
    ['a lower ceiling (6): the 4th action waits', { ceilingPerHour: 6, sentAt: { 'sign-in': [], action: ago(10 * min, 20 * min, 30 * min) } }, refused('budget', 30 * min)],
    ['a higher ceiling (20): the 8th action goes', { ceilingPerHour: 20, sentAt: { 'sign-in': [], action: [1, 2, 3, 4, 5, 6, 7].map((i) => now - i * min) } }, { ok: true }],
    ['a ceiling lowered under what was sent: wait until enough leave', { ceilingPerHour: 6, sentAt: { 'sign-in': [], action: ago(...[10, 20, 30, 40, 50].map((m) => m * min)) } }, refused('budget', 30 * min)],
  ])('%s', (_name, f, expected) => {
    expect(decideSend(facts(f))).toEqual(expected);
  });

  it('never lets the sign-in class delay an action, however many sign-in codes were sent', () => {
    const flood = Array.from({ length: 50 }, (_, i) => now - i * 1_000);
    for (let c = CEILING_RANGE.min; c <= CEILING_RANGE.max; c += 7) {
      expect(decideSend(facts({ ceilingPerHour: c, sentAt: { 'sign-in': flood, action: [] } }))).toEqual({ ok: true });
    }
  });

  it('never sends more than the ceiling in any hour, whatever the mix of requests', () => {
    for (const ceiling of [CEILING_RANGE.min, 10, 25]) {
      const sent: Array<{ cls: 'sign-in' | 'action'; at: number }> = [];
      // a request every 20 s for three hours, alternating classes, no code ever pending
      for (let t = 0; t < 3 * 3_600_000; t += 20_000) {
        const cls = (t / 20_000) % 3 === 0 ? 'action' : 'sign-in';
        const sentAt = { 'sign-in': sent.filter((s) => s.cls === 'sign-in').map((s) => s.at), action: sent.filter((s) => s.cls === 'action').map((s) => s.at) };
        if (decideSend({ now: t, cls, pendingSame: [], sentAt, ceilingPerHour: ceiling }).ok) sent.push({ cls, at: t });
      }
      for (const s of sent) {
        expect(sent.filter((x) => x.at > s.at - 3_600_000 && x.at <= s.at).length).toBeLessThanOrEqual(ceiling);
      }
      expect(sent.filter((s) => s.cls === 'action' && s.at < 3_600_000)).toHaveLength(budgets(ceiling).action);
    }
  });
});
