import { describe, expect, it } from 'vitest';
import { deriveKeys, open, seal, tokenHash } from '../../src/domain/crypto.ts';
import { formatKzt, parseKzt } from '../../src/domain/money.ts';
import { DEFAULT_RULES as DEFAULT_POLICY, needsOtp } from '../../src/domain/policy.ts';

describe('money', () => {
  it.each([
    ['100', 10_000],
    ['100.5', 10_050],
    ['0.01', 1],
    ['2500.99', 250_099],
  ])('parses %s KZT', (s, tiyn) => {
    expect(parseKzt(s)).toBe(tiyn);
  });

  it.each(['-5', '0', '0.00', '1.234', 'abc', '1e5', '', '10,5'])('rejects %j', (s) => {
    expect(() => parseKzt(s)).toThrow(/amount/);
  });

  it('formats tiyn', () => {
    expect(formatKzt(10_050)).toBe('100.50');
    expect(formatKzt(100)).toBe('1');
    expect(formatKzt(-250)).toBe('-2.50');
  });
});

describe('keys and sealing', () => {
  const keys = deriveKeys('x'.repeat(40));

  it('derives a distinct key per purpose', () => {
    expect(keys.otp.equals(keys.outbox)).toBe(false);
    expect(keys.outbox.equals(keys.token)).toBe(false);
    expect(deriveKeys('x'.repeat(40)).otp.equals(keys.otp)).toBe(true);
  });

  it('seals and opens; tampering or another key fails', () => {
    const iv = Buffer.alloc(12, 1);
    const s = seal(keys.outbox, iv, 'Код 123456', 'outbox:+77011234567');
    expect(s.toString('utf8')).not.toContain('123456');
    expect(open(keys.outbox, s, 'outbox:+77011234567')).toBe('Код 123456');
    expect(() => open(keys.outbox, s, 'outbox:+77019999999')).toThrow();
    const bad = Buffer.from(s);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    expect(() => open(keys.outbox, bad, 'outbox:+77011234567')).toThrow();
    expect(() => open(keys.token, s, 'outbox:+77011234567')).toThrow();
  });

  it('hashes tokens with a key', () => {
    expect(tokenHash(keys.token, 'abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenHash(keys.token, 'abc')).not.toBe(tokenHash(keys.otp, 'abc'));
  });
});

describe('authentication policy', () => {
  it('asks for a code to disarm on client channels only', () => {
    for (const ch of ['phone', 'sms', 'chat', 'app'] as const) {
      expect(needsOtp(DEFAULT_POLICY, ch, 'disarm')).toBe(true);
      expect(needsOtp(DEFAULT_POLICY, ch, 'arm')).toBe(false);
      expect(needsOtp(DEFAULT_POLICY, ch, 'status')).toBe(false);
    }
    expect(needsOtp(DEFAULT_POLICY, 'operator', 'disarm')).toBe(false);
    expect(needsOtp({ ...DEFAULT_POLICY, otp: { disarm: ['sms'], arm: ['sms'] } }, 'sms', 'arm')).toBe(true);
  });
});
