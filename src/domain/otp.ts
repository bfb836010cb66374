import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Dynamic authentication (one-time codes), after NIST SP 800-63B and OWASP ASVS:
 * six random digits, five minutes, single use, bound to one document, three wrong
 * entries at most, sends bounded per number (see `decideSend`).
 */
export const OTP_POLICY = {
  digits: 6,
  ttlMs: 5 * 60_000,
  maxAttempts: 3,
  /** A new code for a document whose code is still pending waits this long after it. */
  resendPauseMs: 60_000,
  /** Budgets and the ceiling count the sends of this sliding window. */
  windowMs: 3_600_000,
  /** Sign-in codes per number per window: anyone who knows the number can ask for them. */
  signInPerHour: 3,
  /** The ceiling on code SMS per number per window when the operators have not set one. */
  defaultCeilingPerHour: 10,
  /** The ceiling must leave at least this many action codes after the sign-in budget. */
  minActionPerHour: 3,
  maxCeilingPerHour: 100,
} as const;

/**
 * Who can make a code be sent. `sign-in`: anyone who types the number in the app or the chat,
 * proving nothing. `action`: a request of the identified trusted number (a disarm on any
 * channel) or of an operator (a number's confirmation).
 */
export type CodeClass = 'sign-in' | 'action';
export const CODE_CLASSES: readonly CodeClass[] = ['sign-in', 'action'];

export function codeClass(purpose: string): CodeClass {
  return purpose === 'sign-in' ? 'sign-in' : 'action';
}

/** The lowest and highest ceiling an operator may set. */
export const CEILING_RANGE = {
  min: OTP_POLICY.signInPerHour + OTP_POLICY.minActionPerHour,
  max: OTP_POLICY.maxCeilingPerHour,
} as const;

/**
 * How the ceiling is shared: sign-in gets its own small budget, the action class everything
 * else. The two add up to the ceiling and sign-in never reaches into the action share, so
 * however many sign-in codes a stranger asks for, the client's disarm codes are untouched.
 */
export function budgets(ceilingPerHour: number): Record<CodeClass, number> {
  const ceiling = Math.min(Math.max(Math.trunc(ceilingPerHour), CEILING_RANGE.min), CEILING_RANGE.max);
  return { 'sign-in': OTP_POLICY.signInPerHour, action: ceiling - OTP_POLICY.signInPerHour };
}

export interface SendFacts {
  now: number;
  /** The class of the code to send. */
  cls: CodeClass;
  /**
   * The codes in state pending for the same purpose, target and channel as the one to send
   * (used, cancelled and failed codes are not given; expired ones are ignored here).
   */
  pendingSame: ReadonlyArray<{ createdAt: number; expiresAt: number }>;
  /** Send times of this number's codes by class (older than the window may be included). */
  sentAt: Readonly<Record<CodeClass, readonly number[]>>;
  /** The operators' ceiling on code SMS per number per window. */
  ceilingPerHour: number;
}

export type SendDecision =
  | { ok: true }
  | {
    ok: false;
    /** `pause`: a code for this very request is pending and recent; `budget`: the class's budget is used up. */
    why: 'pause' | 'budget';
    retryAfterMs: number;
    cls: CodeClass;
    budget: number;
  };

/**
 * The one sending policy for every channel. In order:
 * 1. re-send pause: only while a code for the same purpose, target and channel is still
 *    pending, a new one waits `resendPauseMs` after it (a used, cancelled or dead code never
 *    delays anything);
 * 2. the class budget within the sliding hour (`budgets`): sign-in and action never share.
 * The ceiling needs no check of its own: the two budgets add up to it.
 */
export function decideSend(f: SendFacts): SendDecision {
  const budget = budgets(f.ceilingPerHour)[f.cls];
  const newestPending = f.pendingSame
    .filter((c) => c.expiresAt > f.now && c.createdAt <= f.now)
    .reduce((m, c) => Math.max(m, c.createdAt), -Infinity);
  if (f.now - newestPending < OTP_POLICY.resendPauseMs) {
    return { ok: false, why: 'pause', retryAfterMs: OTP_POLICY.resendPauseMs - (f.now - newestPending), cls: f.cls, budget };
  }
  const from = f.now - OTP_POLICY.windowMs;
  const recent = f.sentAt[f.cls].filter((t) => t > from && t <= f.now).sort((a, b) => a - b);
  if (recent.length >= budget) {
    // the send whose leaving the window brings the count below the budget
    const leaving = recent[recent.length - budget] as number;
    return { ok: false, why: 'budget', retryAfterMs: Math.max(1, leaving + OTP_POLICY.windowMs - f.now), cls: f.cls, budget };
  }
  return { ok: true };
}

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
