import { describe, expect, it } from 'vitest';
import { OTP_POLICY, codeMatches, generateCode, hashCode, maySendCode, normaliseCode } from '../../src/domain/otp.ts';

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

  it('limit sends: 60 s apart, 5 per hour', () => {
    const now = 10_000_000;
    expect(maySendCode([], now)).toEqual({ ok: true });
    expect(maySendCode([now - 30_000], now)).toEqual({ ok: false, retryAfterMs: 30_000 });
    expect(maySendCode([now - 60_000], now)).toEqual({ ok: true });
    const five = [1, 2, 3, 4, 5].map((i) => now - i * 600_000);
    const r = maySendCode(five, now);
    expect(r.ok).toBe(false);
    // the oldest of the five leaves the hour window after 3,600,000 - 3,000,000 ms
    expect(r).toEqual({ ok: false, retryAfterMs: 600_000 });
    expect(maySendCode(five.map((t) => t - 600_001), now)).toEqual({ ok: true });
    expect(OTP_POLICY.maxAttempts).toBe(3);
  });
});
