import { AppError } from './errors.ts';

/**
 * Kazakhstan numbers: country code +7 followed by ten digits starting with 7
 * (+7 7XX XXX XX XX). People and switches also write 8 7XX…, 7 7XX…, or the ten digits,
 * with spaces, dashes, dots and brackets. +7 numbers that do not start with 7 are Russian.
 */
export type PhoneKind = 'mobile' | 'fixed';

export interface Phone {
  e164: string;
  kind: PhoneKind;
}

/** Mobile operators' codes (Beeline, Kcell/Activ, Tele2/Altel, and their MVNOs). */
const MOBILE_PREFIXES = ['700', '701', '702', '703', '704', '705', '706', '707', '708', '709', '747', '750', '751', '760', '761', '762', '763', '764', '771', '775', '776', '777', '778'];

/** Geographic area codes of fixed lines: 71x and 72x. */
function isFixedPrefix(p: string): boolean {
  return p.startsWith('71') || p.startsWith('72');
}

export function parsePhone(input: string): Phone {
  if (typeof input !== 'string') throw new AppError('BAD_PHONE', 'phone number must be text');
  const trimmed = input.trim();
  if (trimmed.length === 0) throw new AppError('BAD_PHONE', 'phone number is empty');
  if (trimmed.length > 32 || !/^[+\d\s\-().]+$/.test(trimmed)) {
    throw new AppError('BAD_PHONE', `not a phone number: ${sanitize(trimmed)}`);
  }
  const plus = trimmed.startsWith('+');
  if (trimmed.indexOf('+', 1) !== -1) throw new AppError('BAD_PHONE', `not a phone number: ${sanitize(trimmed)}`);
  const digits = trimmed.replace(/\D/g, '');
  let national: string;
  if (plus) {
    if (!digits.startsWith('7') || digits.length !== 11) {
      throw new AppError('BAD_PHONE', `not a Kazakhstan number: ${sanitize(trimmed)}`);
    }
    national = digits.slice(1);
  } else if (digits.length === 11 && (digits.startsWith('8') || digits.startsWith('7'))) {
    national = digits.slice(1);
  } else if (digits.length === 10) {
    national = digits;
  } else {
    throw new AppError('BAD_PHONE', `not a Kazakhstan number: ${sanitize(trimmed)}`);
  }
  if (!national.startsWith('7')) {
    throw new AppError('BAD_PHONE', `not a Kazakhstan number: ${sanitize(trimmed)}`);
  }
  const prefix = national.slice(0, 3);
  let kind: PhoneKind;
  if (MOBILE_PREFIXES.includes(prefix)) kind = 'mobile';
  else if (isFixedPrefix(prefix)) kind = 'fixed';
  else throw new AppError('BAD_PHONE', `not a Kazakhstan mobile or fixed number: ${sanitize(trimmed)}`);
  return { e164: `+7${national}`, kind };
}

/** A trusted number receives codes by SMS, so it must be a mobile one. */
export function parseMobile(input: string): string {
  const p = parsePhone(input);
  if (p.kind !== 'mobile') throw new AppError('BAD_PHONE', `not a mobile number: ${p.e164}`);
  return p.e164;
}

/** Caller IDs and SMS senders: never throw, just say whether it is a Kazakhstan number. */
export function tryParsePhone(input: string | null | undefined): Phone | null {
  if (!input) return null;
  try {
    return parsePhone(input);
  } catch {
    return null;
  }
}

/** For logs: keep the country/operator prefix and the last two digits. */
export function maskPhone(e164: string): string {
  if (e164.length < 8) return '***';
  return `${e164.slice(0, 5)}*****${e164.slice(-2)}`;
}

function sanitize(s: string): string {
  return s.slice(0, 32);
}
