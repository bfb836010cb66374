import { AppError } from '../domain/errors.ts';
import {
  addDays, checkDate, checkException, checkWeek, clockText, groupWeek, localNow, notArmedDue, offSchedule, planFor,
} from '../domain/schedule.ts';
import type { DayRule, OffSchedule, ScheduleException } from '../domain/schedule.ts';
import { localClock, scheduleNotice, scheduleText } from '../domain/texts.ts';
import type { ClientView, Lang, ObjectView, RefusalReason } from '../domain/types.ts';
import { accessAlert, raiseAlertIn } from './alarms.ts';
import { CHANNEL_AUTH, identify, pickObject } from './client-requests.ts';
import type { ClientRequest } from './client-requests.ts';
import { checkOperator, mustClient, mustObject } from './context.ts';
import type { CoreContext, Tx } from './context.ts';
import type { ScheduleRow, StoreTx } from './ports.ts';

/** An object's schedule as the channels show it. */
export interface ObjectSchedule {
  objectCode: string;
  /** Weekday rules, Monday first; a weekday without one has no rule. */
  days: DayRule[];
  /** Whether a disarm outside the schedule is also told to the object's trusted numbers by SMS. */
  notifyOffSchedule: boolean;
  /** Exceptions, oldest date first. */
  exceptions: ScheduleException[];
  updatedAt: string;
  updatedBy: string | null;
}

/** What one run of the schedule check did. */
export interface ScheduleCheck {
  /** Objects with a schedule looked at. */
  checked: number;
  /** Not-armed SMS queued (one per trusted number). */
  sms: number;
  /** Operators' alerts raised. */
  alerts: number;
}

/** A client's question about an object's schedule (the ГРАФИК command). */
export interface ScheduleInquiry {
  channel: ClientRequest['channel'];
  phone: string;
  objectCode: string | null;
  ref?: string;
}

export type ScheduleInquiryResult =
  | { kind: 'refused'; reason: RefusalReason; lang: Lang; objectCodes?: string[] }
  | {
    kind: 'schedule'; lang: Lang; object: ObjectView; schedule: ObjectSchedule | null;
    /** The exceptions from the local today on. */
    upcoming: ScheduleException[];
    /** The schedule as text in the client's language. */
    text: string;
  };

/** Kinds of the operators' alerts and of the once-a-day marks. */
export const NOT_ARMED_ALERT = 'not-armed';
export const OFF_SCHEDULE_ALERT = 'off-schedule-disarm';
/** Status changes that return an object to where it was, not a disarm by anyone. */
const NOT_A_DISARM = new Set(['restore', 'link-restored']);

function viewOf(object: ObjectView, row: ScheduleRow): ObjectSchedule {
  return { objectCode: object.code, days: row.days, notifyOffSchedule: row.notifyOffSchedule, exceptions: row.exceptions, updatedAt: row.updatedAt, updatedBy: row.updatedBy };
}

async function scheduleOf(store: StoreTx, object: ObjectView): Promise<ObjectSchedule | null> {
  const row = await store.getSchedule(object.id);
  return row ? viewOf(object, row) : null;
}

/** The active trusted numbers that may see the object, of a client not suspended. */
async function contactsOf(store: StoreTx, object: ObjectView, client: ClientView): Promise<string[]> {
  if (client.suspendedAt) return [];
  return (await store.listNumbers(client.id))
    .filter((n) => n.state === 'active' && (n.allObjects || n.objectCodes.includes(object.code)))
    .map((n) => n.phone);
}

async function smsToContacts(tx: Tx, object: ObjectView, client: ClientView, kind: string, text: string): Promise<number> {
  const phones = await contactsOf(tx.store, object, client);
  for (const phone of phones) await tx.enqueue({ priority: 'info', kind, phone, clientId: client.id, text, secret: false, expiresAt: null });
  return phones.length;
}

/** The answer text to ГРАФИК, with the `upcoming` exceptions. */
function scheduleAnswer(lang: Lang, code: string, s: ObjectSchedule | null, upcoming: ScheduleException[]): string {
  return scheduleText(lang, code, s && { groups: groupWeek(s.days), exceptions: upcoming });
}

/**
 * An object was disarmed (its status became 'disarmed' from another one), in the transaction
 * that changed it: outside its schedule — before the not-before time, after the arm-by time,
 * on a closed day — the operators get an alert and, when the schedule says so, the object's
 * trusted numbers an SMS; both journalled. A return to 'disarmed' after an alarm's restore or
 * a link's return is not a disarm.
 */
export async function onObjectDisarmed(tx: Tx, object: ObjectView, cause: string, since: string): Promise<void> {
  if (NOT_A_DISARM.has(cause)) return;
  const row = await tx.store.getSchedule(object.id);
  if (!row) return;
  const local = localNow(new Date(since), tx.ctx.timeZone);
  const why: OffSchedule | null = offSchedule(planFor(row, local.date), local.minutes);
  if (!why) return;
  const time = clockText(local.minutes);
  await raiseAlertIn(tx, { kind: OFF_SCHEDULE_ALERT, clientId: object.clientId, objectCode: object.code, phone: null, detail: `${why} at ${local.date} ${time} by ${cause}` });
  if (!row.notifyOffSchedule) return;
  const client = await mustClient(tx.store, object.clientId);
  const sent = await smsToContacts(tx, object, client, 'schedule', scheduleNotice('offSchedule', client.lang, { code: object.code, time: localClock(since, tx.ctx.timeZone) }));
  await tx.journal({
    channel: 'system', clientId: client.id, objectCode: object.code, action: 'schedule-notice', auth: 'none', outcome: 'executed',
    reason: OFF_SCHEDULE_ALERT, detail: `${why} sms=${sent}`,
  });
}

/** Opening and closing schedules of objects: operators set them, a job checks them every minute. */
export class Schedules {
  /** Notices (object|date|kind) this process saw marked in the database: not looked at again. */
  private readonly told = new Set<string>();

  constructor(private readonly ctx: CoreContext) {}

  /** The object's schedule, or null when it has none. OBJECT_NOT_FOUND for an unknown object. */
  getSchedule(objectCode: string): Promise<ObjectSchedule | null> {
    return this.ctx.read(async (store) => scheduleOf(store, await mustObject(store, objectCode)));
  }

  /**
   * Sets the object's weekly rules (replacing any before; its exceptions stay) and whether a
   * disarm outside them is told to the client by SMS (default yes); journalled.
   */
  async setSchedule(a: { objectCode: string; days: DayRule[]; notifyOffSchedule?: boolean; operator: string }): Promise<ObjectSchedule> {
    checkOperator(a.operator);
    const days = checkWeek(a.days);
    if (a.notifyOffSchedule !== undefined && typeof a.notifyOffSchedule !== 'boolean') throw new AppError('BAD_INPUT', 'notifyOffSchedule must be true or false');
    return this.ctx.run(async (tx) => {
      const object = await mustObject(tx.store, a.objectCode);
      const notify = a.notifyOffSchedule ?? (await tx.store.getSchedule(object.id))?.notifyOffSchedule ?? true;
      await tx.store.putSchedule({ objectId: object.id, days, notifyOffSchedule: notify, at: tx.nowIso(), by: a.operator });
      await this.journal(tx, object, 'schedule-set', a.operator, `${days.map((d) => `${d.weekday}=${d.openFrom ?? '-'}/${d.armBy ?? '-'}`).join(' ')} sms=${notify ? 'on' : 'off'}`);
      return scheduleOf(tx.store, object) as Promise<ObjectSchedule>;
    });
  }

  /** Removes the object's schedule and its exceptions; NOT_FOUND when it had none. Journalled. */
  async clearSchedule(a: { objectCode: string; operator: string }): Promise<void> {
    checkOperator(a.operator);
    await this.ctx.run(async (tx) => {
      const object = await mustObject(tx.store, a.objectCode);
      if (!(await tx.store.deleteSchedule(object.id))) throw new AppError('NOT_FOUND', `object ${object.code} has no schedule`);
      await this.journal(tx, object, 'schedule-clear', a.operator, null);
    });
  }

  /** Sets the exception of one date (replacing one of that date); the object needs a schedule. Journalled. */
  async addException(a: { objectCode: string; date: string; closed?: boolean; armBy?: string | null; openFrom?: string | null; note?: string | null; operator: string }): Promise<ObjectSchedule> {
    checkOperator(a.operator);
    const e = checkException(a);
    return this.ctx.run(async (tx) => {
      const object = await this.scheduled(tx, a.objectCode);
      await tx.store.putScheduleException(object.id, e);
      await this.journal(tx, object, 'schedule-exception-add', a.operator, `${e.date} ${e.closed ? 'closed' : `${e.openFrom ?? '-'}/${e.armBy ?? '-'}`}`);
      return scheduleOf(tx.store, object) as Promise<ObjectSchedule>;
    });
  }

  /** Removes the exception of one date; NOT_FOUND when there is none. Journalled. */
  async removeException(a: { objectCode: string; date: string; operator: string }): Promise<ObjectSchedule> {
    checkOperator(a.operator);
    const date = checkDate(a.date);
    return this.ctx.run(async (tx) => {
      const object = await this.scheduled(tx, a.objectCode);
      if (!(await tx.store.deleteScheduleException(object.id, date))) throw new AppError('NOT_FOUND', `object ${object.code} has no exception on ${date}`);
      await this.journal(tx, object, 'schedule-exception-remove', a.operator, date);
      return scheduleOf(tx.store, object) as Promise<ObjectSchedule>;
    });
  }

  /**
   * The check every minute, for the local date and time of `at`: each scheduled object still
   * 'disarmed' once its arm-by time passed (midnight on a closed day) gets one SMS to its
   * trusted numbers that day, and once `scheduleGraceMs` more passed one operators' alert that
   * day. "Once" holds across instances and restarts (a mark per object, date and kind). Each
   * object in a transaction of its own; each notice journalled.
   */
  async checkSchedules(at: Date): Promise<ScheduleCheck> {
    const local = localNow(at, this.ctx.timeZone);
    const graceMin = Math.round(this.ctx.scheduleGraceMs / 60_000);
    const yesterday = addDays(local.date, -1);
    for (const k of this.told) if (k.slice(k.indexOf('|') + 1, k.lastIndexOf('|')) < yesterday) this.told.delete(k);
    const markOf = (objectId: number, d: { date: string; kind: string }): string => `${objectId}|${d.date}|${d.kind}`;
    // one read for the schedules and, of the objects with a notice due that this process has not
    // seen marked yet, their status: an armed object (the usual case) costs no write transaction
    const { rows, todo } = await this.ctx.read(async (store) => {
      const all = await store.listSchedules(yesterday);
      const work: Array<{ row: (typeof all)[number]; due: ReturnType<typeof notArmedDue> }> = [];
      for (const row of all) {
        const due = notArmedDue(row, local.date, local.minutes, graceMin).filter((d) => !this.told.has(markOf(row.objectId, d)));
        if (due.length > 0 && (await store.getObject(row.objectId))?.status === 'disarmed') work.push({ row, due });
      }
      return { rows: all, todo: work };
    });
    const out: ScheduleCheck = { checked: rows.length, sms: 0, alerts: 0 };
    for (const { row, due } of todo) {
      const r = await this.ctx.run(async (tx) => {
        const done = { sms: 0, alerts: 0, armed: false };
        const object = await tx.store.getObject(row.objectId);
        if (!object || object.status !== 'disarmed') return { ...done, armed: true };
        const client = await mustClient(tx.store, object.clientId);
        for (const d of due) {
          if (!(await tx.store.scheduleNotice(object.id, d.date, d.kind, tx.nowIso()))) continue;
          const deadline = d.closed ? 'closed' : clockText(d.deadline);
          if (d.kind === 'not-armed-alert') {
            await raiseAlertIn(tx, { kind: NOT_ARMED_ALERT, clientId: client.id, objectCode: object.code, phone: null, detail: `not armed on ${d.date}, due ${deadline}` });
            done.alerts++;
            continue;
          }
          const text = d.closed ? scheduleNotice('notArmedClosed', client.lang, { code: object.code }) : scheduleNotice('notArmed', client.lang, { code: object.code, time: deadline });
          const sent = await smsToContacts(tx, object, client, 'schedule', text);
          done.sms += sent;
          await tx.journal({
            channel: 'system', clientId: client.id, objectCode: object.code, action: 'schedule-notice', auth: 'none', outcome: 'executed',
            reason: NOT_ARMED_ALERT, detail: `${d.date} due ${deadline} sms=${sent}`,
          });
        }
        return done;
      });
      // marked now or before: the next minutes skip them without a write
      if (!r.armed) for (const d of due) this.told.add(markOf(row.objectId, d));
      out.sms += r.sms;
      out.alerts += r.alerts;
    }
    return out;
  }

  /**
   * ГРАФИК from a trusted number, in the caller's transaction: the schedule of an object the
   * number may see (its only one when no code is given), journalled like other inquiries.
   */
  async inquiryIn(tx: Tx, a: ScheduleInquiry): Promise<ScheduleInquiryResult> {
    const id = await identify(tx.store, a.phone);
    const auth = CHANNEL_AUTH[a.channel];
    const base = { channel: a.channel, action: 'schedule', auth, objectCode: a.objectCode } as const;
    if (!id.ok) {
      await tx.journal({
        ...base, phone: id.phone, clientId: id.client?.id ?? null, outcome: 'refused', reason: id.reason,
        detail: id.phone ? a.ref ?? null : `caller ${String(a.phone ?? '').slice(0, 32)}`,
      });
      if (id.reason === 'blocked' && id.number && id.client) await accessAlert(tx, id.number, id.client, `blocked number used on ${a.channel}`);
      return { kind: 'refused', reason: id.reason, lang: id.client?.lang ?? 'ru' };
    }
    const lang = id.client.lang;
    const pick = await pickObject(tx.store, id.objects, a.objectCode);
    if (!pick.ok) {
      await tx.journal({ ...base, phone: id.phone, clientId: id.client.id, outcome: 'refused', reason: pick.reason, detail: a.ref ?? null });
      return { kind: 'refused', reason: pick.reason, lang, ...(pick.reason === 'object-ambiguous' ? { objectCodes: id.objects.map((o) => o.code) } : {}) };
    }
    const schedule = await scheduleOf(tx.store, pick.object);
    await tx.journal({ ...base, phone: id.phone, clientId: id.client.id, objectCode: pick.object.code, outcome: 'accepted', detail: a.ref ?? null });
    const today = localNow(tx.now(), this.ctx.timeZone).date;
    const upcoming = schedule?.exceptions.filter((e) => e.date >= today) ?? [];
    return { kind: 'schedule', lang, object: pick.object, schedule, upcoming, text: scheduleAnswer(lang, pick.object.code, schedule, upcoming) };
  }

  /** A schedule inquiry in a transaction of its own (the app and the chat). */
  inquiry(a: ScheduleInquiry): Promise<ScheduleInquiryResult> {
    return this.ctx.run((tx) => this.inquiryIn(tx, a));
  }

  private async scheduled(tx: Tx, code: string): Promise<ObjectView> {
    const object = await mustObject(tx.store, code);
    if (!(await tx.store.getSchedule(object.id))) throw new AppError('NOT_FOUND', `object ${object.code} has no schedule; set one first`);
    return object;
  }

  private async journal(tx: Tx, object: ObjectView, action: string, operator: string, detail: string | null): Promise<void> {
    await tx.journal({ channel: 'operator', clientId: object.clientId, objectCode: object.code, action, auth: 'operator', operator, outcome: 'executed', detail });
  }
}
