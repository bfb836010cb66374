import { AppError } from './errors.ts';

/**
 * The call history: one row per call the phone channel handled or placed. What a call was
 * for is an open set of names, checked against this list; a new kind of call adds its name
 * here (`registerCallPurpose` for one that lives outside this module).
 */
export const CALL_PURPOSES: string[] = [
  /** An incoming call of a client to the robot. */
  'client',
  /** An alarm call-out to a trusted number. */
  'alarm',
  /** A confirmation call-back. */
  'confirm',
];

export type CallDirection = 'in' | 'out';

/** At most this many actions are kept per call; each is cut to `CALL_ACTION_MAX` characters. */
export const CALL_ACTIONS_MAX = 50;
export const CALL_ACTION_MAX = 120;
/** A caller id that is no Kazakhstan number is kept raw, cut to this length. */
export const CALL_RAW_PHONE_MAX = 32;
/** The longest call id (an ARI channel id) the history takes. */
export const CALL_ID_MAX = 128;

export function registerCallPurpose(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new Error(`bad call purpose name: ${name}`);
  if (!CALL_PURPOSES.includes(name)) CALL_PURPOSES.push(name);
}

export function checkCallPurpose(p: string): string {
  if (typeof p !== 'string' || !CALL_PURPOSES.includes(p)) {
    throw new AppError('BAD_INPUT', `purpose must be one of ${CALL_PURPOSES.join(', ')}`);
  }
  return p;
}

/** An action as kept in the history: trimmed, one line, cut to its length. */
export function callAction(text: string): string {
  return String(text).replace(/\s+/g, ' ').trim().slice(0, CALL_ACTION_MAX);
}

/** The offset of `timeZone` from UTC at `at`, in milliseconds. */
function zoneOffsetMs(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(at));
  const n = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(at / 1000) * 1000;
}

/**
 * A bound of a time filter: an ISO date-time with its zone (`2026-03-01T08:00:00Z`,
 * `…+05:00`), or a day (`2026-03-01`), meaning its start in the company's time zone.
 * Throws BAD_INPUT (naming `name`) for anything else.
 */
export function parseTimeBound(raw: string, timeZone: string, name: string): string {
  const s = String(raw ?? '').trim();
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const utc = Date.UTC(y, m - 1, d);
    const back = new Date(utc);
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) {
      throw new AppError('BAD_INPUT', `${name} is not a date: ${s.slice(0, 40)}`);
    }
    // local midnight: the UTC instant whose local time is 00:00 (twice, in case the offset differs there)
    let at = utc - zoneOffsetMs(utc, timeZone);
    at = utc - zoneOffsetMs(at, timeZone);
    return new Date(at).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) return new Date(t).toISOString();
  }
  throw new AppError('BAD_INPUT', `${name} must be an ISO time with its zone or a date YYYY-MM-DD: ${s.slice(0, 40)}`);
}
