import { AppError } from './errors.ts';

/**
 * Opening and closing schedules of guarded objects. Pure: rules in, what a local date and
 * time mean for them out. Times are local times of the company's time zone, "HH:MM";
 * weekdays are ISO numbers (1 Monday … 7 Sunday); dates are local "YYYY-MM-DD".
 */

/** One weekday's rule: armed by `armBy`, not disarmed before `openFrom` (each optional). */
export interface DayRule {
  weekday: number;
  armBy: string | null;
  openFrom: string | null;
}

/**
 * One date that differs from the week: closed all day (the object stays armed), or other
 * times (both null: no rule that day).
 */
export interface ScheduleException {
  date: string;
  closed: boolean;
  armBy: string | null;
  openFrom: string | null;
  note: string | null;
}

/** What an object's schedule says about one date. */
export interface DayPlan {
  date: string;
  closed: boolean;
  /** Minutes after local midnight, or null. */
  armBy: number | null;
  openFrom: number | null;
  /** Whether the date's plan comes from an exception. */
  exception: boolean;
}

/** Why a disarm is outside the schedule. */
export type OffSchedule = 'closed-day' | 'before-open' | 'after-arm-by';

export const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7] as const;
const DAY_NAMES = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;

/** "HH:MM" (or "H:MM") as minutes after midnight; BAD_INPUT otherwise. */
export function parseClock(s: string, what = 'time'): number {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(String(s ?? '').trim());
  if (!m) throw new AppError('BAD_INPUT', `${what} must be a time HH:MM (00:00 to 23:59)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

export function clockText(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function normalClock(s: string | null | undefined, what: string): string | null {
  if (s === null || s === undefined || s === '') return null;
  return clockText(parseClock(s, what));
}

/** A calendar date "YYYY-MM-DD"; BAD_INPUT otherwise. */
export function checkDate(s: string): string {
  const d = String(s ?? '').trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== d) throw new AppError('BAD_INPUT', 'date must be a calendar date YYYY-MM-DD');
  return d;
}

/** The ISO weekday (1 Monday … 7 Sunday) of a date. */
export function weekdayOf(date: string): number {
  const wd = new Date(`${date}T00:00:00Z`).getUTCDay();
  return wd === 0 ? 7 : wd;
}

export function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Both times of a rule, checked: at least one, and "not before" earlier than "armed by". */
function checkTimes(armBy: string | null | undefined, openFrom: string | null | undefined, where: string): { armBy: string | null; openFrom: string | null } {
  const a = normalClock(armBy, `${where}: arm-by`);
  const o = normalClock(openFrom, `${where}: open-from`);
  if (a !== null && o !== null && parseClock(o) >= parseClock(a)) throw new AppError('BAD_INPUT', `${where}: open-from must be earlier than arm-by`);
  return { armBy: a, openFrom: o };
}

/** A week's rules checked and normalised: one per weekday at most, each with a time, Monday first. */
export function checkWeek(days: unknown): DayRule[] {
  if (!Array.isArray(days) || days.length > 7) throw new AppError('BAD_INPUT', 'days must be a list of at most 7 weekday rules');
  const seen = new Set<number>();
  const out: DayRule[] = [];
  for (const d of days as Array<Partial<DayRule> | null>) {
    const wd = d?.weekday;
    if (typeof wd !== 'number' || !Number.isInteger(wd) || wd < 1 || wd > 7) throw new AppError('BAD_INPUT', 'weekday must be 1 (Monday) to 7 (Sunday)');
    if (seen.has(wd)) throw new AppError('BAD_INPUT', `weekday ${wd} is given twice`);
    seen.add(wd);
    const t = checkTimes(d?.armBy, d?.openFrom, DAY_NAMES[wd - 1] as string);
    if (t.armBy === null && t.openFrom === null) throw new AppError('BAD_INPUT', `${DAY_NAMES[wd - 1]}: give arm-by, open-from or both`);
    out.push({ weekday: wd, ...t });
  }
  if (out.length === 0) throw new AppError('BAD_INPUT', 'a schedule needs at least one weekday rule');
  return out.sort((a, b) => a.weekday - b.weekday);
}

/** An exception checked and normalised: closed, or other times (none: no rule that day). */
export function checkException(e: { date: string; closed?: boolean; armBy?: string | null; openFrom?: string | null; note?: string | null }): ScheduleException {
  const date = checkDate(e.date);
  const closed = e.closed === true;
  if (closed && (e.armBy || e.openFrom)) throw new AppError('BAD_INPUT', 'a closed day has no times');
  const t = closed ? { armBy: null, openFrom: null } : checkTimes(e.armBy, e.openFrom, date);
  const note = typeof e.note === 'string' && e.note.trim() !== '' ? e.note.trim() : null;
  if (note !== null && note.length > 100) throw new AppError('BAD_INPUT', 'note is at most 100 characters');
  return { date, closed, ...t, note };
}

/**
 * Weekdays as typed by people: "mon-fri", "sat", "mon,wed,fri", "1-5", "all" (Latin or
 * Russian two-letter names: "пн-пт"). Returns ISO numbers, Monday first.
 */
export function parseWeekdays(s: string): number[] {
  const names: Record<string, number> = {};
  DAY_NAMES.forEach((n, i) => {
    names[n] = i + 1;
    names[n.slice(0, 2)] = i + 1;
  });
  ['ПН', 'ВТ', 'СР', 'ЧТ', 'ПТ', 'СБ', 'ВС'].forEach((n, i) => {
    names[n] = i + 1;
  });
  const day = (t: string): number => {
    const n = /^[1-7]$/.test(t) ? Number(t) : names[t];
    if (!n) throw new AppError('BAD_INPUT', `unknown weekday "${t}" (use mon … sun, 1 … 7, or all)`);
    return n;
  };
  const text = String(s ?? '').trim().toUpperCase();
  if (text === 'ALL' || text === 'DAILY') return [...WEEKDAYS];
  const out = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const [a = '', b, ...more] = part.split('-').map((x) => x.trim());
    if (more.length > 0) throw new AppError('BAD_INPUT', `bad weekday range "${part}"`);
    const from = day(a);
    const to = b === undefined ? from : day(b);
    if (to < from) throw new AppError('BAD_INPUT', `bad weekday range "${part}"`);
    for (let d = from; d <= to; d++) out.add(d);
  }
  return [...out].sort((x, y) => x - y);
}

/** One formatter per time zone: making one costs far more than using it (every disarm asks). */
const clocks = new Map<string, Intl.DateTimeFormat>();

/** A local date, its weekday and the minutes after its midnight, of an instant in a time zone. */
export function localNow(at: Date, timeZone: string): { date: string; weekday: number; minutes: number } {
  let f = clocks.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    });
    clocks.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  const date = `${get('year')}-${get('month')}-${get('day')}`;
  return { date, weekday: weekdayOf(date), minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** What the schedule says about a date: its exception, else its weekday's rule; null when neither. */
export function planFor(s: { days: DayRule[]; exceptions: ScheduleException[] }, date: string): DayPlan | null {
  const ex = s.exceptions.find((e) => e.date === date);
  if (ex) {
    return { date, closed: ex.closed, armBy: ex.armBy === null ? null : parseClock(ex.armBy), openFrom: ex.openFrom === null ? null : parseClock(ex.openFrom), exception: true };
  }
  const rule = s.days.find((d) => d.weekday === weekdayOf(date));
  if (!rule) return null;
  return { date, closed: false, armBy: rule.armBy === null ? null : parseClock(rule.armBy), openFrom: rule.openFrom === null ? null : parseClock(rule.openFrom), exception: false };
}

/** Whether a disarm at `minutes` of the plan's date is outside it, and why. */
export function offSchedule(plan: DayPlan | null, minutes: number): OffSchedule | null {
  if (!plan) return null;
  if (plan.closed) return 'closed-day';
  if (plan.openFrom !== null && minutes < plan.openFrom) return 'before-open';
  if (plan.armBy !== null && minutes >= plan.armBy) return 'after-arm-by';
  return null;
}

/**
 * When the object must be armed on the plan's date, in minutes after its midnight: the arm-by
 * time, or midnight on a closed day; null when the date has no such time.
 */
export function armDeadline(plan: DayPlan | null): number | null {
  if (!plan) return null;
  return plan.closed ? 0 : plan.armBy;
}

/**
 * The not-armed notices due at `minutes` of `today`: the clients' SMS once the deadline of
 * today passed, the operators' alert once the grace after it passed too. A grace that runs
 * past midnight still alerts for the day before, after midnight.
 */
export function notArmedDue(s: { days: DayRule[]; exceptions: ScheduleException[] }, today: string, minutes: number, graceMin: number):
  Array<{ date: string; kind: 'not-armed-sms' | 'not-armed-alert'; deadline: number; closed: boolean }> {
  const out: Array<{ date: string; kind: 'not-armed-sms' | 'not-armed-alert'; deadline: number; closed: boolean }> = [];
  const yesterday = planFor(s, addDays(today, -1));
  const yDeadline = armDeadline(yesterday);
  if (yesterday && yDeadline !== null && yDeadline + graceMin >= 1440 && minutes + 1440 >= yDeadline + graceMin) {
    out.push({ date: yesterday.date, kind: 'not-armed-alert', deadline: yDeadline, closed: yesterday.closed });
  }
  const plan = planFor(s, today);
  const deadline = armDeadline(plan);
  if (plan && deadline !== null && minutes >= deadline) {
    out.push({ date: today, kind: 'not-armed-sms', deadline, closed: plan.closed });
    if (minutes >= deadline + graceMin) out.push({ date: today, kind: 'not-armed-alert', deadline, closed: plan.closed });
  }
  return out;
}

/** Consecutive weekdays with the same times, for showing a week compactly. */
export function groupWeek(days: DayRule[]): Array<{ from: number; to: number; armBy: string | null; openFrom: string | null }> {
  const out: Array<{ from: number; to: number; armBy: string | null; openFrom: string | null }> = [];
  for (const d of [...days].sort((a, b) => a.weekday - b.weekday)) {
    const last = out[out.length - 1];
    if (last && last.to === d.weekday - 1 && last.armBy === d.armBy && last.openFrom === d.openFrom) last.to = d.weekday;
    else out.push({ from: d.weekday, to: d.weekday, armBy: d.armBy, openFrom: d.openFrom });
  }
  return out;
}

/**
 * One rule as typed on the command line: weekdays, then "arm-by HH:MM" and/or "open-from
 * HH:MM", e.g. "mon-fri open-from 07:00 arm-by 20:00"; one rule per weekday it names.
 */
export function parseRule(text: string): DayRule[] {
  const [days = '', ...rest] = String(text ?? '').trim().split(/\s+/);
  const times: { armBy: string | null; openFrom: string | null } = { armBy: null, openFrom: null };
  if (rest.length === 0 || rest.length % 2 !== 0) throw new AppError('BAD_INPUT', `rule "${text}": expected DAYS arm-by HH:MM and/or open-from HH:MM`);
  for (let i = 0; i < rest.length; i += 2) {
    const key = (rest[i] as string).toLowerCase();
    const value = rest[i + 1] as string;
    if (key === 'arm-by') times.armBy = clockText(parseClock(value, 'arm-by'));
    else if (key === 'open-from') times.openFrom = clockText(parseClock(value, 'open-from'));
    else throw new AppError('BAD_INPUT', `rule "${text}": unknown "${key}" (use arm-by or open-from)`);
  }
  return parseWeekdays(days).map((weekday) => ({ weekday, ...times }));
}

/** Weekday names for people who read English (the command line, the console). */
export function weekdayName(weekday: number): string {
  return ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][weekday - 1] ?? String(weekday);
}
