import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.ts';
import { parseCommand } from '../../src/domain/commands.ts';
import {
  addDays, checkException, checkWeek, groupWeek, localNow, notArmedDue, offSchedule, parseRule, parseWeekdays, planFor, weekdayOf,
} from '../../src/domain/schedule.ts';
import type { DayRule, ScheduleException } from '../../src/domain/schedule.ts';
import { scheduleNotice, scheduleText, t } from '../../src/domain/texts.ts';

const TZ = 'Asia/Almaty';
/** Armed by 20:00 Mon–Fri, 22:00 Sat, not disarmed before 07:00 on working days; Sunday free. */
const WEEK: DayRule[] = [
  ...[1, 2, 3, 4, 5].map((weekday) => ({ weekday, armBy: '20:00', openFrom: '07:00' })),
  { weekday: 6, armBy: '22:00', openFrom: null },
];
const s = (exceptions: ScheduleException[] = [], days = WEEK): { days: DayRule[]; exceptions: ScheduleException[] } => ({ days, exceptions });
const ex = (date: string, over: Partial<ScheduleException> = {}): ScheduleException => ({ date, closed: false, armBy: null, openFrom: null, note: null, ...over });

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('BAD_INPUT');
    return (e as Error).message;
  }
  throw new Error('expected BAD_INPUT');
}

describe('schedule: week days and dates', () => {
  it('knows ISO weekdays and steps over month and year ends', () => {
    expect(weekdayOf('2026-11-23')).toBe(1); // Monday
    expect(weekdayOf('2026-11-29')).toBe(7); // Sunday
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
  });

  it('parses weekdays as people type them', () => {
    expect(parseWeekdays('mon-fri')).toEqual([1, 2, 3, 4, 5]);
    expect(parseWeekdays('Sat')).toEqual([6]);
    expect(parseWeekdays('mon,wed,fri')).toEqual([1, 3, 5]);
    expect(parseWeekdays('1-3,7')).toEqual([1, 2, 3, 7]);
    expect(parseWeekdays('пн-пт')).toEqual([1, 2, 3, 4, 5]);
    expect(parseWeekdays('all')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    badInput(() => parseWeekdays('fri-mon'));
    badInput(() => parseWeekdays('funday'));
  });

  it('parses a command-line rule into one rule per weekday', () => {
    expect(parseRule('mon-wed open-from 7:00 arm-by 20:00')).toEqual([1, 2, 3].map((weekday) => ({ weekday, armBy: '20:00', openFrom: '07:00' })));
    expect(parseRule('sat arm-by 22:00')).toEqual([{ weekday: 6, armBy: '22:00', openFrom: null }]);
    badInput(() => parseRule('sat'));
    badInput(() => parseRule('sat close-at 22:00'));
    badInput(() => parseRule('sat arm-by 24:00'));
  });
});

describe('schedule: checking input', () => {
  it('normalises a week and refuses what makes no sense', () => {
    expect(checkWeek([{ weekday: 6, armBy: '9:05', openFrom: null }, { weekday: 1, armBy: null, openFrom: '07:00' }]))
      .toEqual([{ weekday: 1, armBy: null, openFrom: '07:00' }, { weekday: 6, armBy: '09:05', openFrom: null }]);
    expect(badInput(() => checkWeek([]))).toMatch(/at least one/);
    expect(badInput(() => checkWeek([{ weekday: 8, armBy: '20:00', openFrom: null }]))).toMatch(/weekday/);
    expect(badInput(() => checkWeek([{ weekday: 1, armBy: '20:00', openFrom: null }, { weekday: 1, armBy: '21:00', openFrom: null }]))).toMatch(/twice/);
    expect(badInput(() => checkWeek([{ weekday: 1, armBy: null, openFrom: null }]))).toMatch(/arm-by, open-from/);
    expect(badInput(() => checkWeek([{ weekday: 1, armBy: '07:00', openFrom: '20:00' }]))).toMatch(/earlier/);
    expect(badInput(() => checkWeek([{ weekday: 1, armBy: '25:00', openFrom: null }]))).toMatch(/HH:MM/);
    badInput(() => checkWeek('mon-fri'));
  });

  it('checks exceptions: a real date, closed without times', () => {
    expect(checkException({ date: '2026-12-31', closed: true, note: ' New Year ' })).toEqual({ date: '2026-12-31', closed: true, armBy: null, openFrom: null, note: 'New Year' });
    expect(checkException({ date: '2026-03-08', armBy: '15:00' })).toEqual({ date: '2026-03-08', closed: false, armBy: '15:00', openFrom: null, note: null });
    badInput(() => checkException({ date: '2026-02-30', closed: true }));
    badInput(() => checkException({ date: '31.12.2026', closed: true }));
    badInput(() => checkException({ date: '2026-12-31', closed: true, armBy: '15:00' }));
    badInput(() => checkException({ date: '2026-12-31', note: 'x'.repeat(101) }));
  });
});

describe('schedule: what a moment means', () => {
  it('reads the local date, weekday and time in the company time zone, across midnight UTC', () => {
    // 19:30 UTC on Friday is already Saturday in Almaty (UTC+5)
    expect(localNow(new Date('2026-11-27T19:30:00Z'), TZ)).toEqual({ date: '2026-11-28', weekday: 6, minutes: 30 });
    expect(localNow(new Date('2026-11-27T14:59:00Z'), TZ)).toEqual({ date: '2026-11-27', weekday: 5, minutes: 19 * 60 + 59 });
    expect(localNow(new Date('2026-11-27T14:59:00Z'), 'UTC')).toEqual({ date: '2026-11-27', weekday: 5, minutes: 14 * 60 + 59 });
  });

  it('an exception replaces the weekday rule for its date', () => {
    expect(planFor(s(), '2026-11-27')).toMatchObject({ closed: false, armBy: 1200, openFrom: 420, exception: false });
    expect(planFor(s(), '2026-11-29')).toBeNull(); // Sunday: no rule
    expect(planFor(s([ex('2026-11-27', { closed: true })]), '2026-11-27')).toMatchObject({ closed: true, exception: true });
    expect(planFor(s([ex('2026-11-27', { armBy: '15:00' })]), '2026-11-27')).toMatchObject({ armBy: 900, openFrom: null, exception: true });
  });

  it('a disarm is outside the schedule before the not-before time, from the arm-by time on, and all day when closed', () => {
    const fri = planFor(s(), '2026-11-27');
    expect(offSchedule(fri, 6 * 60 + 59)).toBe('before-open');
    expect(offSchedule(fri, 7 * 60)).toBeNull();
    expect(offSchedule(fri, 19 * 60 + 59)).toBeNull();
    expect(offSchedule(fri, 20 * 60)).toBe('after-arm-by');
    expect(offSchedule(planFor(s(), '2026-11-29'), 3 * 60)).toBeNull();
    expect(offSchedule(planFor(s([ex('2026-11-29', { closed: true })]), '2026-11-29'), 12 * 60)).toBe('closed-day');
  });

  it('not-armed notices: the SMS at the arm-by time, the alert after the grace', () => {
    expect(notArmedDue(s(), '2026-11-27', 19 * 60 + 59, 30)).toEqual([]);
    expect(notArmedDue(s(), '2026-11-27', 20 * 60, 30)).toEqual([{ date: '2026-11-27', kind: 'not-armed-sms', deadline: 1200, closed: false }]);
    expect(notArmedDue(s(), '2026-11-27', 20 * 60 + 30, 30).map((d) => d.kind)).toEqual(['not-armed-sms', 'not-armed-alert']);
    expect(notArmedDue(s(), '2026-11-29', 23 * 60, 30)).toEqual([]); // Sunday
    expect(notArmedDue(s([ex('2026-11-29', { closed: true })]), '2026-11-29', 0, 30)).toEqual([{ date: '2026-11-29', kind: 'not-armed-sms', deadline: 0, closed: true }]);
  });

  it('a grace running past midnight alerts for the day before after midnight', () => {
    const late = s([], [{ weekday: 5, armBy: '23:50', openFrom: null }]);
    expect(notArmedDue(late, '2026-11-27', 23 * 60 + 55, 30).map((d) => d.kind)).toEqual(['not-armed-sms']);
    expect(notArmedDue(late, '2026-11-28', 19, 30)).toEqual([]);
    expect(notArmedDue(late, '2026-11-28', 20, 30)).toEqual([{ date: '2026-11-27', kind: 'not-armed-alert', deadline: 23 * 60 + 50, closed: false }]);
  });
});

describe('schedule: as text and as a command', () => {
  it('shows a week in groups of days, and the exceptions, in Russian and Kazakh', () => {
    const groups = groupWeek(WEEK);
    expect(groups).toEqual([{ from: 1, to: 5, armBy: '20:00', openFrom: '07:00' }, { from: 6, to: 6, armBy: '22:00', openFrom: null }]);
    const exceptions = [ex('2026-12-31', { closed: true })];
    expect(scheduleText('ru', '4711', { groups, exceptions })).toBe('График объекта 4711:\nПн-Пт: снятие с 07:00, охрана до 20:00\nСб: охрана до 22:00\n31.12: выходной');
    expect(scheduleText('kk', '4711', { groups, exceptions })).toBe('4711 нысанының кестесі:\nДс-Жм: алу 07:00 бастап, күзет 20:00 дейін\nСн: күзет 22:00 дейін\n31.12: демалыс');
    expect(scheduleText('ru', '4711', null)).toBe('У объекта 4711 нет графика.');
  });

  it('each notice fits one SMS part (70 UCS-2 characters) with an 8-digit object code, and help names ГРАФИК', () => {
    for (const lang of ['ru', 'kk'] as const) {
      for (const key of ['notArmed', 'notArmedClosed', 'offSchedule', 'none'] as const) {
        expect(scheduleNotice(key, lang, { code: '12345678', time: '23:59' }).length, `${lang} ${key}`).toBeLessThanOrEqual(70);
      }
    }
    expect(t('help', 'ru')).toContain('ГРАФИК');
    expect(t('help', 'kk')).toContain('КЕСТЕ');
    expect(t('help', 'ru').length).toBeLessThanOrEqual(70);
    expect(t('help', 'kk').length).toBeLessThanOrEqual(70);
  });

  it('ГРАФИК, КЕСТЕ, GRAFIK and SCHEDULE ask for the schedule, with or without an object code', () => {
    expect(parseCommand('ГРАФИК 4711')).toEqual({ cmd: 'schedule', objectCode: '4711' });
    expect(parseCommand('кесте')).toEqual({ cmd: 'schedule', objectCode: null });
    expect(parseCommand('Grafik 4711')).toEqual({ cmd: 'schedule', objectCode: '4711' });
    expect(parseCommand('schedule, 4711!')).toEqual({ cmd: 'schedule', objectCode: '4711' });
    expect(parseCommand('ГРАФИК 4711 завтра')).toEqual({ cmd: 'unknown' });
  });
});
