import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.ts';
import { jobBodies, runOnce, scheduleCheckJob, slotOf } from '../../src/jobs/schedule.ts';
import type { JobDeps } from '../../src/jobs/schedule.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger } from '../support/sms-harness.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

function fixture(over: Parameters<typeof makeFixture>[0] = {}): Fixture {
  const fx = makeFixture(over);
  cleanups.push(() => fx.close());
  return fx;
}

function deps(fx: Fixture, instance = 'local'): JobDeps {
  return { core: fx.core, admin: fx.admin, backupDir: fx.dir, backupKeepDays: 2, reminderDays: 3, logger: quietLogger, instance };
}

const WORKDAYS = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, armBy: '20:00', openFrom: '07:00' }));
const OTHER_PHONE = '+77017654321';

/** A client with objects 1234 and 5678: one number for all of them, one for 5678 only. */
async function seed(fx: Fixture, lang: 'ru' | 'kk' = 'ru'): Promise<number> {
  const { clientId } = await seedClient(fx, { codes: ['1234', '5678'], lang });
  await fx.core.addNumber({ clientId, phone: OTHER_PHONE, objectCodes: ['5678'], signed: true, operator: 'test' });
  return clientId;
}

/** Moves the clock to a UTC time (Almaty is UTC+5). */
function at(fx: Fixture, iso: string): Date {
  fx.clock.t = Date.parse(iso);
  return fx.clock.now();
}

async function scheduleSms(fx: Fixture): Promise<Array<{ phone: string; text: string | null }>> {
  return (await fx.core.listOutbox({ limit: 100 })).filter((r) => r.kind === 'schedule').map((r) => ({ phone: r.phone, text: r.text }));
}

async function alerts(fx: Fixture, kind: string): Promise<Array<{ objectCode: string | null; detail: string | null }>> {
  return (await fx.core.listAlerts(false)).filter((a) => a.kind === kind).map((a) => ({ objectCode: a.objectCode, detail: a.detail }));
}

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(AppError);
  expect((e as AppError).code).toBe(code);
}

describe('schedules in the core', () => {
  it('operators set, read and clear a schedule and its exceptions, journalled; bad input changes nothing', async () => {
    const fx = fixture();
    await seed(fx);
    expect(await fx.core.getSchedule('1234')).toBeNull();
    await refused(fx.core.setSchedule({ objectCode: '1234', days: [{ weekday: 1, armBy: '07:00', openFrom: '20:00' }], operator: 'anna' }), 'BAD_INPUT');
    await refused(fx.core.setSchedule({ objectCode: '1234', days: [], operator: 'anna' }), 'BAD_INPUT');
    await refused(fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, operator: '' }), 'BAD_INPUT');
    await refused(fx.core.setSchedule({ objectCode: '9999', days: WORKDAYS, operator: 'anna' }), 'OBJECT_NOT_FOUND');
    await refused(fx.core.addScheduleException({ objectCode: '1234', date: '2026-12-31', closed: true, operator: 'anna' }), 'NOT_FOUND');
    await refused(fx.core.clearSchedule({ objectCode: '1234', operator: 'anna' }), 'NOT_FOUND');
    expect(await fx.core.getSchedule('1234')).toBeNull();
    expect(await fx.core.searchJournal({ channel: 'operator', action: 'schedule-set', limit: 10 })).toEqual([]);

    const set = await fx.core.setSchedule({ objectCode: '1234', days: [...WORKDAYS, { weekday: 6, armBy: '22:00', openFrom: null }], operator: 'anna' });
    expect(set).toMatchObject({ objectCode: '1234', notifyOffSchedule: true, updatedBy: 'anna', exceptions: [] });
    expect(set.days.map((d) => d.weekday)).toEqual([1, 2, 3, 4, 5, 6]);
    await refused(fx.core.addScheduleException({ objectCode: '1234', date: '2026-02-30', closed: true, operator: 'anna' }), 'BAD_INPUT');
    await refused(fx.core.addScheduleException({ objectCode: '1234', date: '2026-12-31', closed: true, armBy: '15:00', operator: 'anna' }), 'BAD_INPUT');
    const withEx = await fx.core.addScheduleException({ objectCode: '1234', date: '2026-12-31', closed: true, note: 'New Year', operator: 'anna' });
    expect(withEx.exceptions).toEqual([{ date: '2026-12-31', closed: true, armBy: null, openFrom: null, note: 'New Year' }]);
    // a new week keeps the exceptions and the SMS flag unless it is given
    const off = await fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, notifyOffSchedule: false, operator: 'bek' });
    expect(off).toMatchObject({ notifyOffSchedule: false, exceptions: [{ date: '2026-12-31' }] });
    expect((await fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, operator: 'bek' })).notifyOffSchedule).toBe(false);
    await refused(fx.core.removeScheduleException({ objectCode: '1234', date: '2026-12-30', operator: 'anna' }), 'NOT_FOUND');
    expect((await fx.core.removeScheduleException({ objectCode: '1234', date: '2026-12-31', operator: 'anna' })).exceptions).toEqual([]);
    await fx.core.clearSchedule({ objectCode: '1234', operator: 'anna' });
    expect(await fx.core.getSchedule('1234')).toBeNull();

    const docs = await fx.core.searchJournal({ channel: 'operator', objectCode: '1234', limit: 20 });
    expect(docs.filter((d) => d.action.startsWith('schedule')).map((d) => [d.action, d.operator]).reverse()).toEqual([
      ['schedule-set', 'anna'], ['schedule-exception-add', 'anna'], ['schedule-set', 'bek'], ['schedule-set', 'bek'],
      ['schedule-exception-remove', 'anna'], ['schedule-clear', 'anna'],
    ]);
  });

  it('not armed by the arm-by time: one SMS that day to the numbers of the object, one alert after the grace', async () => {
    const fx = fixture();
    await seed(fx, 'kk');
    await fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, operator: 'anna' });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '5678', operator: 'anna' });
    await fx.core.setSchedule({ objectCode: '5678', days: WORKDAYS, operator: 'anna' });

    // Tuesday 2026-11-24, 19:59 in Almaty: not yet
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-24T14:59:00Z'))).toEqual({ checked: 2, sms: 0, alerts: 0 });
    // 20:00: the SMS, in the client's language, to the number that may see 1234 only
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-24T15:00:00Z'))).toEqual({ checked: 2, sms: 1, alerts: 0 });
    expect(await scheduleSms(fx)).toEqual([{ phone: '+77011234567', text: 'ZHEDEL: 1234 нысаны күзетте емес, кесте бойынша 20:00 дейін.' }]);
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-24T15:29:00Z'))).toEqual({ checked: 2, sms: 0, alerts: 0 });
    expect(await alerts(fx, 'not-armed')).toEqual([]);
    // after the 30 minutes' grace: the operators' alert, once
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-24T15:30:00Z'))).toEqual({ checked: 2, sms: 0, alerts: 1 });
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-24T17:00:00Z'))).toEqual({ checked: 2, sms: 0, alerts: 0 });
    expect(await alerts(fx, 'not-armed')).toEqual([{ objectCode: '1234', detail: 'not armed on 2026-11-24, due 20:00' }]);
    expect((await fx.core.searchJournal({ action: 'schedule-notice', limit: 10 })).map((d) => [d.objectCode, d.reason, d.detail])).toEqual([
      ['1234', 'not-armed', '2026-11-24 due 20:00 sms=1'],
    ]);
    expect(await scheduleSms(fx)).toHaveLength(1);

    // the next day is another day; armed in time, nothing is said
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-25T15:00:00Z'))).toMatchObject({ sms: 1 });
    await fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'anna' });
    expect(await scheduleCheckJob(deps(fx), at(fx, '2026-11-25T15:45:00Z'))).toMatchObject({ sms: 0, alerts: 0 });
  });

  it('the notices go once across instances, and the job runs once per minute across them', async () => {
    const fx = fixture();
    const other = fixture({ dir: fx.dir, clock: fx.clock, instance: 'b' });
    await seed(fx);
    await fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, operator: 'anna' });
    const now = at(fx, '2026-11-24T15:31:00Z');
    const both = await Promise.all([fx.core.checkSchedules(now), other.core.checkSchedules(now)]);
    expect(both.reduce((n, r) => n + r.sms, 0)).toBe(1);
    expect(both.reduce((n, r) => n + r.alerts, 0)).toBe(1);
    expect(await scheduleSms(fx)).toHaveLength(1);

    const slot = slotOf(now);
    const runs = await Promise.all([fx, other].map((f, i) => runOnce(deps(f, `i${i}`), 'schedule-check', slot, () => jobBodies(deps(f, `i${i}`))['schedule-check']!(now), { now: () => now })));
    expect(runs.filter((r) => r.ran)).toHaveLength(1);
  });

  it('a closed day wants the object armed all day; a grace past midnight alerts after midnight', async () => {
    const fx = fixture();
    await seed(fx);
    await fx.core.setSchedule({ objectCode: '1234', days: [{ weekday: 2, armBy: '23:50', openFrom: null }], operator: 'anna' });
    await fx.core.addScheduleException({ objectCode: '1234', date: '2026-11-26', closed: true, operator: 'anna' });
    // Tuesday 23:55 local: the SMS; the grace ends at 00:20 on Wednesday
    expect(await fx.core.checkSchedules(at(fx, '2026-11-24T18:55:00Z'))).toMatchObject({ sms: 1, alerts: 0 });
    expect(await fx.core.checkSchedules(at(fx, '2026-11-24T19:19:00Z'))).toMatchObject({ sms: 0, alerts: 0 });
    expect(await fx.core.checkSchedules(at(fx, '2026-11-24T19:20:00Z'))).toMatchObject({ sms: 0, alerts: 1 });
    expect(await alerts(fx, 'not-armed')).toEqual([{ objectCode: '1234', detail: 'not armed on 2026-11-24, due 23:50' }]);
    // both told: the minutes after write nothing
    const writes = fx.store.commits.transactions;
    expect(await fx.core.checkSchedules(at(fx, '2026-11-24T19:21:00Z'))).toMatchObject({ sms: 0, alerts: 0 });
    expect(fx.store.commits.transactions).toBe(writes);
    // Thursday is closed: disarmed at midnight is already late
    expect(await fx.core.checkSchedules(at(fx, '2026-11-25T19:00:00Z'))).toMatchObject({ sms: 1, alerts: 0 });
    expect((await scheduleSms(fx))[0]?.text).toBe('ZHEDEL: объект 1234 не под охраной, сегодня по графику выходной.');
  });

  it('a disarm outside the schedule, from any source, alerts the operators and tells the client unless switched off', async () => {
    const fx = fixture();
    await seed(fx);
    await fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, operator: 'anna' });
    await fx.core.addScheduleException({ objectCode: '1234', date: '2026-11-27', closed: true, operator: 'anna' });
    const arm = (): Promise<unknown> => fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'anna' });

    // Wednesday 06:30 local: before the not-before time, by an operator
    at(fx, '2026-11-25T01:30:00Z');
    await arm();
    await fx.core.operatorRequest({ action: 'disarm', objectCode: '1234', operator: 'anna' });
    expect(await alerts(fx, 'off-schedule-disarm')).toEqual([{ objectCode: '1234', detail: 'before-open at 2026-11-25 06:30 by disarm' }]);
    expect(await scheduleSms(fx)).toEqual([{ phone: '+77011234567', text: 'ZHEDEL: объект 1234 снят с охраны в 06:30, вне графика.' }]);

    // 08:00 is within the schedule: nothing
    at(fx, '2026-11-25T03:00:00Z');
    await arm();
    await fx.core.operatorRequest({ action: 'disarm', objectCode: '1234', operator: 'anna' });
    expect(await alerts(fx, 'off-schedule-disarm')).toHaveLength(1);

    // Friday is closed: a disarm by the panel at noon
    at(fx, '2026-11-27T07:00:00Z');
    await arm();
    await fx.core.recordMonitoringEvent({ sourceId: 'd-1', objectCode: '1234', type: 'disarm', kind: null, zone: null, eventAt: null });
    expect((await alerts(fx, 'off-schedule-disarm'))[0]).toEqual({ objectCode: '1234', detail: 'closed-day at 2026-11-27 12:00 by panel-disarm' });
    expect(await scheduleSms(fx)).toHaveLength(2);

    // an alarm and its restore return a disarmed object to 'disarmed': not a disarm
    at(fx, '2026-11-27T16:00:00Z');
    await fx.core.recordMonitoringEvent({ sourceId: 'a-1', objectCode: '1234', type: 'alarm', kind: 'burglary', zone: 1, eventAt: null });
    await fx.core.recordMonitoringEvent({ sourceId: 'r-1', objectCode: '1234', type: 'restore', kind: null, zone: null, eventAt: null });
    expect((await fx.core.getObject('1234')).status).toBe('disarmed');
    expect(await alerts(fx, 'off-schedule-disarm')).toHaveLength(2);

    // with the SMS switched off, the operators are still alerted
    await fx.core.setSchedule({ objectCode: '1234', days: WORKDAYS, notifyOffSchedule: false, operator: 'anna' });
    at(fx, '2026-11-30T16:00:00Z'); // Monday 21:00, after the arm-by time
    await arm();
    await fx.core.operatorRequest({ action: 'disarm', objectCode: '1234', operator: 'anna' });
    expect((await alerts(fx, 'off-schedule-disarm'))[0]).toEqual({ objectCode: '1234', detail: 'after-arm-by at 2026-11-30 21:00 by disarm' });
    expect(await scheduleSms(fx)).toHaveLength(2);
  });

  it('ГРАФИК answers the schedule of an object the number may see, journalled; others get the no-object answer', async () => {
    const fx = fixture();
    await seed(fx);
    await fx.core.setSchedule({ objectCode: '5678', days: [...WORKDAYS, { weekday: 6, armBy: '22:00', openFrom: null }], operator: 'anna' });
    await fx.core.addScheduleException({ objectCode: '5678', date: '2026-11-20', closed: true, operator: 'anna' });
    await fx.core.addScheduleException({ objectCode: '5678', date: '2026-12-31', closed: true, operator: 'anna' });
    const sms = (phone: string, text: string): Promise<{ reply: string | null }> => fx.core.handleText({ channel: 'sms', phone, text });
    expect((await sms(OTHER_PHONE, 'ГРАФИК')).reply).toBe('График объекта 5678:\nПн-Пт: снятие с 07:00, охрана до 20:00\nСб: охрана до 22:00\n31.12: выходной');
    expect((await sms(OTHER_PHONE, 'grafik 1234')).reply).toBe('Такого объекта нет среди ваших.');
    expect((await sms('+77011234567', 'КЕСТЕ 1234')).reply).toBe('У объекта 1234 нет графика.');
    expect((await sms('+77011234567', 'ГРАФИК')).reply).toBe('Укажите код объекта: 1234, 5678.');
    expect((await sms('+77019999999', 'ГРАФИК 5678')).reply).toBeNull();
    const docs = await fx.core.searchJournal({ action: 'schedule', limit: 10 });
    expect(docs.map((d) => [d.phone, d.objectCode, d.outcome, d.reason]).reverse()).toEqual([
      [OTHER_PHONE, '5678', 'accepted', null],
      [OTHER_PHONE, '1234', 'refused', 'object-not-allowed'],
      ['+77011234567', '1234', 'accepted', null],
      ['+77011234567', null, 'refused', 'object-ambiguous'],
      ['+77019999999', '5678', 'refused', 'unknown'],
    ]);
  });
});
