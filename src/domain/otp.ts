import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Dynamic authentication (one-time codes), after NIST SP 800-63B and OWASP ASVS:
 * six random digits, five minutes, single use, bound to one document, three wrong
 * entries at most, sends limited per number.
 */
export const OTP_POLICY = {
  digits: 6,
  ttlMs: 5 * 60_000,
  maxAttempts: 3,
  maxSendsPerHour: 5,
  minIntervalMs: 60_000,
} as const;

/** `randomInt(max)` must come from a CSPRNG and return an integer in [0, max). */
export function generateCode(randomInt: (max: number) => number): string {
  const max = 10 ** OTP_POLICY.digits;
  return String(randomInt(max)).padStart(OTP_POLICY.digits, '0');
}

/** The stored form of a code: HMAC over the challenge id and the code, so it binds both. */
export function hashCode(key: Buffer, challengeId: string, code: string): Buffer {
  return createHmac('sha256', key).update(`otp:${challengeId}:${code}`).digest();
}

export function codeMatches(key: Buffer, challengeId: string, code: string, stored: Buffer): boolean {
  const h = hashCode(key, challengeId, code);
  return h.length === stored.length && timingSafeEqual(h, stored);
}

/** A code as typed: digits only after removing spaces and dashes. */
export function normaliseCode(input: string): string | null {
  const s = input.replace(/[\s-]/g, '');
  return new RegExp(`^\\d{${OTP_POLICY.digits}}$`).test(s) ? s : null;
}

export type SendDecision = { ok: true } | { ok: false; retryAfterMs: number };

/** `sentAt` are the send times of this number within the last hour (any order). */
export function maySendCode(sentAt: readonly number[], now: number): SendDecision {
  const hourAgo = now - 3_600_000;
  const recent = sentAt.filter((t) => t > hourAgo).sort((a, b) => a - b);
  const last = recent[recent.length - 1];
  if (last !== undefined && now - last < OTP_POLICY.minIntervalMs) {
    return { ok: false, retryAfterMs: OTP_POLICY.minIntervalMs - (now - last) };
  }
  if (recent.length >= OTP_POLICY.maxSendsPerHour) {
    const oldest = recent[recent.length - OTP_POLICY.maxSendsPerHour] as number;
    return { ok: false, retryAfterMs: oldest + 3_600_000 - now };
  }
  return { ok: true };
}
