import { AppError } from './errors.ts';
import { clockText, parseClock } from './schedule.ts';
import type { Channel } from './types.ts';

/**
 * Confirmation rules (agreement 5.10): which client requests need a one-time code sent to the
 * trusted number, and when a request needs one more step, a confirmation call-back to the
 * client's trusted numbers (or an operator's decision) before it is executed. Rules are data:
 * the company's rules, and per client stricter ones, merged so that a client's rules can only
 * add steps. Caller ID and SMS sender can be forged: they identify, the code authorises, the
 * call-back (a call placed by us to a trusted number) confirms.
 */

export const CLIENT_CHANNELS = ['phone', 'sms', 'chat', 'app'] as const;
export type ClientChannel = (typeof CLIENT_CHANNELS)[number];

export const RULE_ACTIONS = ['arm', 'disarm'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

/** A local time window 'HH:MM'–'HH:MM' in the company's time zone; it may cross midnight. */
export interface TimeWindow {
  from: string;
  to: string;
}

export interface ConfirmationRules {
  /** Per action, the client channels on which it needs a one-time code. */
  otp: Record<RuleAction, ClientChannel[]>;
  callback: {
    /** The actions the conditions below apply to. */
    actions: RuleAction[];
    /** Every such action is confirmed (a client who asked for it). */
    always: boolean;
    /** Requests made inside one of these local windows. */
    windows: TimeWindow[];
    /** Requests from a number activated or changed less than this many days ago (0: off). */
    newNumberDays: number;
    /** Requests on a channel this client has never used before for a request about its objects (status, arm, disarm). */
    newChannel: boolean;
    /** Requests within an hour after a refused confirmation or a code whose attempts ran out. */
    recentRefusal: boolean;
  };
}

/** The company's rules until an admin sets others: a code for every disarm, no call-back. */
export const DEFAULT_RULES: ConfirmationRules = {
  otp: { disarm: [...CLIENT_CHANNELS], arm: [] },
  callback: { actions: ['disarm'], always: false, windows: [], newNumberDays: 0, newChannel: false, recentRefusal: false },
};

/** Why a request waits for confirmation. */
export type HoldReason = 'always' | 'window' | 'new-number' | 'new-channel' | 'recent-refusal' | 'operator';

/** What is known about a request when the rules are applied. */
export interface RequestFacts {
  action: string;
  channel: Channel;
  /** Minutes since local midnight in the company's time zone. */
  localMinutes: number;
  /** Days since the requesting number was activated or last changed. */
  numberAgeDays: number;
  /** Whether this client made a request about its objects on this channel before. */
  channelUsedBefore: boolean;
  /** A refused confirmation or exhausted code of this client within the last hour. */
  recentRefusal: boolean;
}

function isClientChannel(c: Channel): c is ClientChannel {
  return (CLIENT_CHANNELS as readonly string[]).includes(c);
}

function isRuleAction(a: string): a is RuleAction {
  return (RULE_ACTIONS as readonly string[]).includes(a);
}

export function needsOtp(rules: ConfirmationRules, channel: Channel, action: string): boolean {
  if (!isClientChannel(channel) || !isRuleAction(action)) return false;
  return rules.otp[action].includes(channel);
}

/** Whether local minute `t` falls in the window (from inclusive, to exclusive; crossing midnight when to ≤ from). */
export function inWindow(w: TimeWindow, t: number): boolean {
  const from = parseClock(w.from);
  const to = parseClock(w.to);
  if (from === to) return true; // a whole day
  return from < to ? t >= from && t < to : t >= from || t < to;
}

/** The conditions a request meets: empty when it may go ahead without a call-back. */
export function holdReasons(rules: ConfirmationRules, f: RequestFacts): HoldReason[] {
  if (!isClientChannel(f.channel) || !isRuleAction(f.action) || !rules.callback.actions.includes(f.action)) return [];
  const c = rules.callback;
  const out: HoldReason[] = [];
  if (c.always) out.push('always');
  if (c.windows.some((w) => inWindow(w, f.localMinutes))) out.push('window');
  if (c.newNumberDays > 0 && f.numberAgeDays < c.newNumberDays) out.push('new-number');
  if (c.newChannel && !f.channelUsedBefore) out.push('new-channel');
  if (c.recentRefusal && f.recentRefusal) out.push('recent-refusal');
  return out;
}

function unique<T>(list: T[]): T[] {
  return [...new Set(list)];
}

/** The company's rules with a client's stricter ones: every step of either applies. */
export function mergeRules(company: ConfirmationRules, client: ConfirmationRules | null): ConfirmationRules {
  if (!client) return company;
  const otp = {} as Record<RuleAction, ClientChannel[]>;
  for (const a of RULE_ACTIONS) otp[a] = unique([...company.otp[a], ...client.otp[a]]);
  const windows = [...company.callback.windows];
  for (const w of client.callback.windows) if (!windows.some((x) => x.from === w.from && x.to === w.to)) windows.push(w);
  return {
    otp,
    callback: {
      actions: unique([...company.callback.actions, ...client.callback.actions]),
      always: company.callback.always || client.callback.always,
      windows,
      newNumberDays: Math.max(company.callback.newNumberDays, client.callback.newNumberDays),
      newChannel: company.callback.newChannel || client.callback.newChannel,
      recentRefusal: company.callback.recentRefusal || client.callback.recentRefusal,
    },
  };
}

/**
 * A client's own rules when none are set: nothing added to the company's. Conditions a client
 * adds apply to disarms unless the client's rules name other actions.
 */
export const NO_EXTRA_RULES: ConfirmationRules = {
  otp: { disarm: [], arm: [] },
  callback: { actions: ['disarm'], always: false, windows: [], newNumberDays: 0, newChannel: false, recentRefusal: false },
};

function bad(msg: string): never {
  throw new AppError('BAD_INPUT', msg);
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${what}: unknown field ${JSON.stringify(k).slice(0, 40)} (known: ${keys.join(', ')})`);
}

function listOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T[] {
  if (!Array.isArray(v)) bad(`${what} must be a list of ${allowed.join(', ')}`);
  for (const x of v) if (!allowed.includes(x as T)) bad(`${what}: ${JSON.stringify(x).slice(0, 20)} is not one of ${allowed.join(', ')}`);
  return unique(v as T[]);
}

/**
 * Reads rules from JSON-like input over `base` (fields left out keep base's value), refusing
 * anything malformed with a clear message. Company rules (`floor`) may not drop the code for
 * a disarm on any client channel: that is the agreement's own minimum.
 */
export function parseRules(input: unknown, base: ConfirmationRules, o: { floor: boolean }): ConfirmationRules {
  const r = record(input, 'rules');
  onlyKeys(r, ['otp', 'callback'], 'rules');
  const otp = { ...base.otp };
  if (r.otp !== undefined) {
    const o2 = record(r.otp, 'otp');
    onlyKeys(o2, [...RULE_ACTIONS], 'otp');
    for (const a of RULE_ACTIONS) if (o2[a] !== undefined) otp[a] = listOf(o2[a], CLIENT_CHANNELS, `otp.${a}`);
  }
  if (o.floor && CLIENT_CHANNELS.some((c) => !otp.disarm.includes(c))) {
    bad('a disarm needs a one-time code on every client channel (phone, sms, chat, app); this cannot be switched off');
  }
  const callback = { ...base.callback };
  if (r.callback !== undefined) {
    const c = record(r.callback, 'callback');
    onlyKeys(c, ['actions', 'always', 'windows', 'newNumberDays', 'newChannel', 'recentRefusal'], 'callback');
    if (c.actions !== undefined) callback.actions = listOf(c.actions, RULE_ACTIONS, 'callback.actions');
    for (const k of ['always', 'newChannel', 'recentRefusal'] as const) {
      if (c[k] === undefined) continue;
      if (typeof c[k] !== 'boolean') bad(`callback.${k} must be true or false`);
      callback[k] = c[k];
    }
    if (c.newNumberDays !== undefined) {
      const n = c.newNumberDays;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > 365) bad('callback.newNumberDays must be an integer from 0 (off) to 365');
      callback.newNumberDays = n;
    }
    if (c.windows !== undefined) {
      if (!Array.isArray(c.windows) || c.windows.length > 8) bad('callback.windows must be a list of at most 8 {from, to} windows');
      callback.windows = c.windows.map((w, i) => {
        const x = record(w, `callback.windows[${i}]`);
        onlyKeys(x, ['from', 'to'], `callback.windows[${i}]`);
        return { from: clockText(parseClock(String(x.from ?? ''), `callback.windows[${i}].from`)), to: clockText(parseClock(String(x.to ?? ''), `callback.windows[${i}].to`)) };
      });
    }
  }
  return { otp, callback };
}

/** Reads stored rules (written by this module); damaged text falls back to `fallback`. */
export function storedRules(text: string | undefined, fallback: ConfirmationRules, floor: boolean): ConfirmationRules {
  if (!text) return fallback;
  try {
    return parseRules(JSON.parse(text), fallback, { floor });
  } catch {
    return fallback;
  }
}

/** "23:00-06:00" → a window; for the command line. */
export function parseWindow(text: string): TimeWindow {
  const m = /^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$/.exec(text);
  if (!m) bad(`a window is written HH:MM-HH:MM, got ${JSON.stringify(text).slice(0, 30)}`);
  return { from: clockText(parseClock(m[1] as string)), to: clockText(parseClock(m[2] as string)) };
}
