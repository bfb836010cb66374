import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from './errors.ts';

/**
 * A duress code: a second code a client may choose, typed instead of the one-time code when
 * someone forces the client to disarm. The object is disarmed as usual and the operators get
 * a silent panic alarm. Stored only as an HMAC bound to the client.
 */
export const DURESS_DIGITS = { min: 4, max: 8 } as const;

/** The purposes of the codes that confirm a client's change of the duress code in the app. */
export const DURESS_SET = 'duress-set';
export const DURESS_CLEAR = 'duress-clear';

export function isDuressPurpose(purpose: string): boolean {
  return purpose === DURESS_SET || purpose === DURESS_CLEAR;
}

/** A code as typed (spaces and dashes removed) when it has the length of a duress code, else null. */
export function normaliseDuress(input: string): string | null {
  const s = String(input ?? '').replace(/[\s-]/g, '');
  return /^\d+$/.test(s) && s.length >= DURESS_DIGITS.min && s.length <= DURESS_DIGITS.max ? s : null;
}

/** Whether each digit is the one before it plus (or minus) one: 1234, 98765. */
function straightRun(code: string): boolean {
  const step = Number(code[1]) - Number(code[0]);
  if (step !== 1 && step !== -1) return false;
  for (let i = 1; i < code.length; i++) if (Number(code[i]) - Number(code[i - 1]) !== step) return false;
  return true;
}

/**
 * A new duress code, checked: 4 to 8 digits, not one digit repeated and not a straight run
 * (those are the first anyone tries). Throws BAD_INPUT, never repeating the code.
 */
export function checkDuressCode(input: unknown): string {
  const code = typeof input === 'string' ? normaliseDuress(input) : null;
  if (!code) throw new AppError('BAD_INPUT', `the duress code must be ${DURESS_DIGITS.min} to ${DURESS_DIGITS.max} digits`);
  if (/^(\d)\1+$/.test(code)) throw new AppError('BAD_INPUT', 'the duress code is too easy to guess: all its digits are the same');
  if (straightRun(code)) throw new AppError('BAD_INPUT', 'the duress code is too easy to guess: its digits run up or down in a row');
  return code;
}

/** The stored form: HMAC over the client id and the code, so equal codes of two clients differ. */
export function duressHash(key: Buffer, clientId: number, code: string): Buffer {
  return createHmac('sha256', key).update(`duress:${clientId}:${code}`).digest();
}

export function duressMatches(key: Buffer, clientId: number, input: string, stored: Buffer | null): boolean {
  const code = normaliseDuress(input);
  if (!code || !stored) return false;
  const h = duressHash(key, clientId, code);
  return h.length === stored.length && timingSafeEqual(h, stored);
}
