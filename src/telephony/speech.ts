import { readFileSync } from 'node:fs';
import type { Lang, ObjectStatus } from '../domain/types.ts';

/**
 * What the robot says, as lists of prompt ids (prompts/manifest.json). Pure: values in,
 * prompt ids out. Times are told in the company's time zone: "changed today at 14 05".
 */

// prompts/ sits two levels above this file both in the sources (src/telephony) and in the
// compiled service (dist/telephony).
const manifest = JSON.parse(readFileSync(new URL('../../prompts/manifest.json', import.meta.url), 'utf8')) as unknown;
const PROMPTS = (manifest as { prompts: Record<string, Record<Lang, string>> }).prompts;

export function knownPrompt(id: string): boolean {
  return Object.hasOwn(PROMPTS, id);
}

export function promptIds(): string[] {
  return Object.keys(PROMPTS);
}

/** Digits one by one (object codes, zones). Other characters are skipped. */
export function sayDigits(s: string): string[] {
  return [...s].filter((c) => c >= '0' && c <= '9').map((c) => `digit-${c}`);
}

/** A number from 0 to 59 (hours, minutes, days). */
export function sayNumber(n: number): string[] {
  if (!Number.isInteger(n) || n < 0 || n > 59) throw new RangeError(`no prompt for the number ${n}`);
  return [`num-${n}`];
}

const STATUS_PROMPT: Record<ObjectStatus, string> = {
  armed: 'status-armed',
  disarmed: 'status-disarmed',
  alarm: 'status-alarm',
  'no-link': 'status-no-link',
};

/** One formatter per time zone: making one costs far more than using it (a call says two times). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(d: Date, timeZone: string): { y: number; m: number; d: number; h: number; min: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(d);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { y: get('year'), m: get('month'), d: get('day'), h: get('hour'), min: get('minute') };
}

/** "today at 14 05", "yesterday at 9 30", "5 March at 0 00" — minutes under ten as "zero five". */
export function sayWhen(since: Date, now: Date, timeZone: string): string[] {
  const a = localParts(since, timeZone);
  const b = localParts(now, timeZone);
  const dayA = Date.UTC(a.y, a.m - 1, a.d);
  const dayB = Date.UTC(b.y, b.m - 1, b.d);
  const days = Math.round((dayB - dayA) / 86_400_000);
  const day = days === 0 ? ['today'] : days === 1 ? ['yesterday'] : [...sayNumber(a.d), `month-${a.m}`];
  const minutes = a.min < 10 ? ['num-0', ...sayNumber(a.min)] : sayNumber(a.min);
  return [...day, 'at', ...sayNumber(a.h), ...minutes];
}

/** The status phrase, then when it last changed. */
export function sayStatus(status: ObjectStatus, since: Date, now: Date, timeZone: string): string[] {
  return [STATUS_PROMPT[status], 'changed-at', ...sayWhen(since, now, timeZone)];
}

/** "Object 4 0 2 1: armed. Changed today at 14 05." */
export function sayObject(code: string, status: ObjectStatus, since: Date, now: Date, _lang: Lang, timeZone: string): string[] {
  return ['object', ...sayDigits(code), ...sayStatus(status, since, now, timeZone)];
}
