import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RULES, NO_EXTRA_RULES, holdReasons, inWindow, mergeRules, needsOtp, parseRules, parseWindow, storedRules,
} from '../../src/domain/policy.ts';
import { localNow } from '../../src/domain/schedule.ts';
import type { RequestFacts } from '../../src/domain/policy.ts';

const facts = (f: Partial<RequestFacts> = {}): RequestFacts => ({
  action: 'disarm', channel: 'sms', localMinutes: 12 * 60, numberAgeDays: 400, channelUsedBefore: true, recentRefusal: false, ...f,
});

describe('confirmation rules', () => {
  it('a window may cross midnight; its end is not in it', () => {
    const night = { from: '23:00', to: '06:00' };
    expect(inWindow(night, 23 * 60)).toBe(true);
    expect(inWindow(night, 3 * 60 + 12)).toBe(true);
    expect(inWindow(night, 6 * 60)).toBe(false);
    expect(inWindow(night, 22 * 60 + 59)).toBe(false);
    expect(inWindow({ from: '09:00', to: '18:00' }, 8 * 60 + 59)).toBe(false);
    expect(inWindow({ from: '09:00', to: '18:00' }, 9 * 60)).toBe(true);
  });

  it('each condition adds its reason; none by default', () => {
    expect(holdReasons(DEFAULT_RULES, facts({ localMinutes: 3 * 60, numberAgeDays: 0, channelUsedBefore: false, recentRefusal: true }))).toEqual([]);
    const rules = parseRules({ callback: { windows: [{ from: '23:00', to: '06:00' }], newNumberDays: 7, newChannel: true, recentRefusal: true } }, DEFAULT_RULES, { floor: true });
    expect(holdReasons(rules, facts())).toEqual([]);
    expect(holdReasons(rules, facts({ localMinutes: 3 * 60 + 12 }))).toEqual(['window']);
    expect(holdReasons(rules, facts({ numberAgeDays: 6.9 }))).toEqual(['new-number']);
    expect(holdReasons(rules, facts({ channelUsedBefore: false }))).toEqual(['new-channel']);
    expect(holdReasons(rules, facts({ recentRefusal: true }))).toEqual(['recent-refusal']);
    // only for the actions named, and only on client channels
    expect(holdReasons(rules, facts({ action: 'arm', localMinutes: 180 }))).toEqual([]);
    expect(holdReasons(rules, facts({ channel: 'operator', localMinutes: 180 }))).toEqual([]);
  });

  it('a client\'s rules only add steps to the company\'s', () => {
    const company = parseRules({ callback: { windows: [{ from: '23:00', to: '06:00' }], newNumberDays: 3 } }, DEFAULT_RULES, { floor: true });
    const client = parseRules({ otp: { arm: ['phone'] }, callback: { actions: ['arm'], always: false, newNumberDays: 1, windows: [{ from: '20:00', to: '23:00' }] } }, NO_EXTRA_RULES, { floor: false });
    const m = mergeRules(company, client);
    expect(m.otp.disarm).toEqual(['phone', 'sms', 'chat', 'app']);
    expect(m.otp.arm).toEqual(['phone']);
    expect(m.callback.actions.sort()).toEqual(['arm', 'disarm']);
    expect(m.callback.newNumberDays).toBe(3); // the larger one
    expect(m.callback.windows).toEqual([{ from: '23:00', to: '06:00' }, { from: '20:00', to: '23:00' }]);
    expect(needsOtp(m, 'phone', 'arm')).toBe(true);
    expect(needsOtp(m, 'sms', 'arm')).toBe(false);
    expect(mergeRules(company, null)).toBe(company);
  });

  it('bad rules are refused with a clear message; the company cannot drop the disarm code', () => {
    const bad = (x: unknown, floor = true): string => {
      try {
        parseRules(x, DEFAULT_RULES, { floor });
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(bad({ otp: { disarm: ['phone', 'sms', 'chat'] } })).toMatch(/every client channel/);
    expect(bad({ callback: { windows: [{ from: '25:00', to: '06:00' }] } })).toMatch(/HH:MM/);
    expect(bad({ callback: { newNumberDays: -1 } })).toMatch(/0 \(off\) to 365/);
    expect(bad({ callback: { always: 'yes' } })).toMatch(/true or false/);
    expect(bad({ callback: { actions: ['status'] } })).toMatch(/not one of arm, disarm/);
    expect(bad({ callbak: {} })).toMatch(/unknown field "callbak"/);
    expect(bad([])).toMatch(/must be an object/);
    expect(bad({ otp: { disarm: [] } }, false)).toBe('accepted');
    // stored text that is damaged falls back, never weakens
    expect(storedRules('{not json', DEFAULT_RULES, true)).toBe(DEFAULT_RULES);
    expect(storedRules(JSON.stringify({ otp: { disarm: [] } }), DEFAULT_RULES, true)).toBe(DEFAULT_RULES);
  });

  it('windows from the command line; local minutes in the company\'s time zone', () => {
    expect(parseWindow('23:00-6:00')).toEqual({ from: '23:00', to: '06:00' });
    expect(() => parseWindow('night')).toThrow(/HH:MM-HH:MM/);
    // 22:12 UTC is 03:12 in Almaty (UTC+5)
    expect(localNow(new Date('2026-12-02T22:12:00Z'), 'Asia/Almaty').minutes).toBe(3 * 60 + 12);
    expect(localNow(new Date('2026-12-02T00:00:00Z'), 'UTC').minutes).toBe(0);
  });
});
