import { AppError } from '../domain/errors.ts';
import { BILLING_TEXT, alarmText, linkLostText, linkRestoredText, restoredText } from '../domain/texts.ts';
import { UNSILENCEABLE_KINDS } from '../domain/types.ts';
import type { ClientView, Lang, NumberView, ObjectStatus, ObjectView } from '../domain/types.ts';
import { applyStatus, checkOperator, mustClient, mustObject } from './context.ts';
import type { CoreContext, Tx } from './context.ts';
import type { AlertRow, MonitoringEventRow } from './ports.ts';

/** Who to call about an alarm, in the order of the client's trusted numbers. */
export interface CalloutPlan {
  eventId: number;
  objectCode: string;
  clientId: number;
  kind: string;
  zone: number | null;
  contacts: Array<{ phone: string; lang: Lang }>;
}

/** How far ahead of its receipt a monitoring event may be dated before the receive time is used instead. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;

export interface AlertInput {
  kind: string;
  clientId: number | null;
  objectCode: string | null;
  phone: string | null;
  detail: string | null;
}

/** An alert for the operators (console, log, metric), journalled in the caller's transaction. */
export async function raiseAlertIn(tx: Tx, a: AlertInput): Promise<number> {
  const id = await tx.store.insertAlert({ ...a, at: tx.nowIso() });
  await tx.journal({ channel: 'system', clientId: a.clientId, phone: a.phone, objectCode: a.objectCode, action: 'operator-alert', auth: 'none', outcome: 'accepted', reason: a.kind, detail: a.detail });
  tx.emit({ type: 'operator-alert', id, kind: a.kind, objectCode: a.objectCode, detail: a.detail });
  return id;
}

/**
 * Suspected unauthorised access (agreement 5.9): tell the operators and the client — by SMS
 * to the client's other active numbers, or to this number when it is the only one, never to
 * an unregistered number — at most once an hour per number, with nothing that helps an
 * attacker (no codes, no which-check-failed).
 */
export async function accessAlert(tx: Tx, number: NumberView, client: ClientView, why: string): Promise<void> {
  const since = new Date(tx.now().getTime() - 3_600_000).toISOString();
  if (await tx.store.recentAlert('access', number.phone, since)) return;
  await raiseAlertIn(tx, { kind: 'access', clientId: client.id, objectCode: null, phone: number.phone, detail: why });
  const others = (await tx.store.listNumbers(client.id)).filter((n) => n.state === 'active' && n.id !== number.id);
  const targets = others.length > 0 ? others.map((n) => n.phone) : [number.phone];
  for (const phone of targets) {
    await tx.enqueue({ priority: 'alarm', kind: 'access-alert', phone, clientId: client.id, text: BILLING_TEXT.accessAlert[client.lang], secret: false, expiresAt: null });
  }
}

/** Monitoring events, alarms told to clients, call-outs and operators' alerts. */
/** A monitoring event as the intake receives it. */
export interface MonitoringEventIn {
  sourceId: string;
  objectCode: string;
  type: string;
  kind: string | null;
  zone: number | null;
  eventAt: string | null;
  /** Who reported it: the monitoring centre's API (default) or a panel through the DC-09 receiver. */
  channel?: 'monitoring' | 'panel';
  /** How the sender was authenticated, for the journal (default 'api-key'). */
  auth?: string;
  /** More for the journal (the panel's own code, partition, user). */
  detail?: string;
}

/** What recording one event did. */
export interface RecordedEvent { row: MonitoringEventRow; duplicate: boolean; callout: CalloutPlan | null }

export class Alarms {
  constructor(private readonly ctx: CoreContext) {}

  /**
   * An event from the monitoring centre, stored once per sender's id (a repeat returns the
   * stored one and changes nothing) and journalled. A panel's clock is not trusted to be in
   * the future: an event dated more than `MAX_CLOCK_AHEAD_MS` after its receipt is stored
   * with the receive time, and the skew is journalled.
   */
  async recordMonitoringEvent(e: MonitoringEventIn): Promise<RecordedEvent> {
    return this.ctx.run((tx) => this.recordIn(tx, e));
  }

  /**
   * A burst of events in one transaction (one durable commit for all of them), each handled as
   * `recordMonitoringEvent` would, in order. An event the core refuses (an unknown object, a bad
   * time) is answered with its error and changes nothing; the others go on.
   */
  async recordMonitoringEvents(list: MonitoringEventIn[]): Promise<Array<RecordedEvent | { error: AppError }>> {
    return this.ctx.run(async (tx) => {
      const out: Array<RecordedEvent | { error: AppError }> = [];
      for (const e of list) {
        // what the intake refuses is found before anything of that event is written; any later
        // error rolls the whole burst back
        const refusal = e.eventAt && Number.isNaN(Date.parse(e.eventAt))
          ? new AppError('BAD_INPUT', 'the event time must be an ISO time')
          : (await tx.store.getObjectByCode(e.objectCode)) ? null : new AppError('OBJECT_NOT_FOUND', `no object with code ${e.objectCode}`);
        out.push(refusal ? { error: refusal } : await this.recordIn(tx, e));
      }
      return out;
    });
  }

  /** `recordMonitoringEvent` in the caller's transaction. */
  recordEventIn(tx: Tx, e: MonitoringEventIn): Promise<RecordedEvent> {
    return this.recordIn(tx, e);
  }

  private async recordIn(tx: Tx, e: MonitoringEventIn): Promise<RecordedEvent> {
    const object = await mustObject(tx.store, e.objectCode);
    const now = tx.nowIso();
    const claimed = e.eventAt ? Date.parse(e.eventAt) : Number.NaN;
    if (e.eventAt && Number.isNaN(claimed)) throw new AppError('BAD_INPUT', 'the event time must be an ISO time');
    const ahead = Number.isNaN(claimed) ? 0 : claimed - Date.parse(now);
    const clamped = ahead > MAX_CLOCK_AHEAD_MS;
    const eventAt = Number.isNaN(claimed) || clamped ? now : new Date(claimed).toISOString();
    const r = await tx.store.insertMonitoringEvent({
      sourceId: e.sourceId, objectCode: object.code, type: e.type, kind: e.kind, zone: e.zone, eventAt, receivedAt: now,
    });
    if (r.duplicate) return { ...r, callout: null };
    const out = await this.processEvent(tx, r.row, object);
    await tx.journal({
      channel: e.channel ?? 'monitoring', clientId: object.clientId, objectCode: object.code, action: `event-${e.type}`, auth: e.auth ?? 'api-key', outcome: 'accepted',
      reason: out.result,
      detail: `id=${e.sourceId.slice(0, 100)}${e.kind ? ` kind=${e.kind}` : ''}${e.zone !== null ? ` zone=${e.zone}` : ''}${e.detail ? ` ${e.detail}` : ''}`
        + `${clamped ? ` clock-ahead=${Math.round(ahead / 1000)}s time-set-to-receipt` : ''}${out.late ? ' late-status-kept' : ''}`,
    });
    return { row: { ...r.row, result: out.result, processedAt: now }, duplicate: false, callout: out.callout };
  }

  /**
   * What an event does to its object: status (never rolled back by an event older than the
   * current status), the alarm SMS to the object's active trusted numbers (grouped within
   * `alarmGroupMs` of receipt per object, kind and zone), one "restored" SMS after an alarm,
   * and a call-out plan when the object has call-outs enabled. The event time decides only
   * the status: an alarm older than the current status is still delivered (`late`), it just
   * leaves the status as it is.
   */
  private async processEvent(tx: Tx, ev: MonitoringEventRow, object: ObjectView): Promise<{ result: string; callout: CalloutPlan | null; late: boolean }> {
    const { store } = tx;
    const now = tx.nowIso();
    const stale = Date.parse(ev.eventAt) < Date.parse(object.statusSince);
    let late = false;
    const finish = async (result: string, zoneKey: string | null = null, callout: CalloutPlan | null = null): Promise<{ result: string; callout: CalloutPlan | null; late: boolean }> => {
      await store.setEventResult(ev.id, result, now, zoneKey);
      return { result, callout, late };
    };
    const client = await mustClient(store, object.clientId);
    const contacts = (await store.listNumbers(client.id))
      .filter((n) => n.state === 'active' && (n.allObjects || n.objectCodes.includes(object.code)));
    switch (ev.type) {
      case 'alarm': {
        const kind = ev.kind ?? 'burglary';
        const zoneKey = `${kind}:${ev.zone ?? '-'}`;
        if (stale) {
          // an alarm always reaches people, whatever the times of earlier events
          late = true;
        } else {
          if (object.status !== 'alarm') await store.setPriorStatus(object.id, object.status);
          await applyStatus(tx, object, 'alarm', `alarm:${kind}`, ev.eventAt);
        }
        // grouped by when alarms were received, never by the panel's clock
        const since = new Date(Date.parse(ev.receivedAt) - this.ctx.alarmGroupMs).toISOString();
        if (await store.recentAlarm(object.code, zoneKey, since, ev.id)) return finish('grouped', zoneKey);
        for (const n of contacts) {
          await tx.enqueue({
            priority: 'alarm', kind: 'alarm', phone: n.phone, clientId: client.id, secret: false, expiresAt: null,
            text: alarmText(client.lang, { code: object.code, address: object.address, kind, zone: ev.zone, at: ev.eventAt, timeZone: this.ctx.timeZone }),
          });
        }
        tx.emit({ type: 'alarm', clientId: client.id, objectCode: object.code, kind, zone: ev.zone, at: ev.eventAt });
        const plan: CalloutPlan | null = object.calloutEnabled && contacts.length > 0
          ? { eventId: ev.id, objectCode: object.code, clientId: client.id, kind, zone: ev.zone, contacts: contacts.map((n) => ({ phone: n.phone, lang: client.lang })) }
          : null;
        if (contacts.length === 0) await raiseAlertIn(tx, { kind: 'alarm-no-contact', clientId: client.id, objectCode: object.code, phone: null, detail: `alarm ${kind}` });
        if (plan) await store.setCalloutState(ev.id, 'pending');
        return finish('alarm', zoneKey, plan);
      }
      case 'restore': {
        if (stale) return finish('stale');
        const open = await store.openAlarm(object.code);
        if (object.status === 'alarm') {
          const prior = (await store.getPriorStatus(object.id) ?? 'armed') as ObjectStatus;
          await applyStatus(tx, object, prior === 'alarm' ? 'armed' : prior, 'restore', ev.eventAt);
        }
        if (!open) return finish('restore');
        for (const n of contacts) {
          await tx.enqueue({ priority: 'alarm', kind: 'restore', phone: n.phone, clientId: client.id, secret: false, expiresAt: null, text: restoredText(client.lang, object.code, ev.eventAt, this.ctx.timeZone) });
        }
        return finish('restored');
      }
      case 'arm':
      case 'disarm':
        if (stale) return finish('stale');
        await applyStatus(tx, object, ev.type === 'arm' ? 'armed' : 'disarmed', `panel-${ev.type}`, ev.eventAt);
        return finish('status');
      case 'link-lost':
        if (stale) return finish('stale');
        if (object.status === 'no-link') return finish('status');
        await store.setPriorStatus(object.id, object.status);
        await applyStatus(tx, object, 'no-link', 'link-lost', ev.eventAt);
        // the client and the operators learn it once, when the link goes
        for (const n of contacts) {
          await tx.enqueue({ priority: 'alarm', kind: 'link-lost', phone: n.phone, clientId: client.id, secret: false, expiresAt: null, text: linkLostText(client.lang, object.code, ev.eventAt, this.ctx.timeZone) });
        }
        await raiseAlertIn(tx, { kind: 'no-link', clientId: client.id, objectCode: object.code, phone: null, detail: `link lost (${ev.sourceId.slice(0, 60)})` });
        return finish('link-lost');
      case 'link-restored': {
        if (stale) return finish('stale');
        if (object.status !== 'no-link') return finish('status');
        const prior = (await store.getPriorStatus(object.id) ?? 'disarmed') as ObjectStatus;
        await applyStatus(tx, object, prior === 'no-link' ? 'disarmed' : prior, 'link-restored', ev.eventAt);
        for (const n of contacts) {
          await tx.enqueue({ priority: 'alarm', kind: 'link-restored', phone: n.phone, clientId: client.id, secret: false, expiresAt: null, text: linkRestoredText(client.lang, object.code, ev.eventAt, this.ctx.timeZone) });
        }
        return finish('link-restored');
      }
      default:
        return finish('noted');
    }
  }

  /**
   * Call-outs waiting for this instance: alarms recorded by any process (HTTP intake, the
   * CLI), call-outs of a dead instance whose lease ran out, and this instance's own from
   * before a restart (except `running`, the events it is calling now). Each is claimed under
   * a lease of `calloutLeaseMs` that the caller renews (`renewCallouts`) until
   * `finishCallouts`.
   */
  async takeCallouts(running: number[] = []): Promise<CalloutPlan[]> {
    return this.ctx.run(async (tx) => {
      const plans: CalloutPlan[] = [];
      const now = tx.now();
      const until = new Date(now.getTime() + this.ctx.calloutLeaseMs).toISOString();
      for (const ev of await tx.store.claimCallouts(this.ctx.instance, now.toISOString(), until, running)) {
        // taken over from an instance that died after someone pressed 1: that alarm is answered
        // (fire and panic are called through to everyone, so they go on)
        if (!UNSILENCEABLE_KINDS.has(ev.kind ?? '') && (await tx.store.calloutAcknowledged(ev.id))) {
          await tx.store.finishCallout(ev.id, this.ctx.instance);
          continue;
        }
        const object = await mustObject(tx.store, ev.objectCode);
        const client = await mustClient(tx.store, object.clientId);
        const contacts = (await tx.store.listNumbers(client.id)).filter((n) => n.state === 'active' && (n.allObjects || n.objectCodes.includes(object.code)));
        plans.push({ eventId: ev.id, objectCode: object.code, clientId: client.id, kind: ev.kind ?? 'burglary', zone: ev.zone, contacts: contacts.map((n) => ({ phone: n.phone, lang: client.lang })) });
      }
      return plans;
    });
  }

  /**
   * Renews this instance's lease on the call-outs of these events; resolves with the ids it
   * still holds (a missing one was taken over by another instance: stop calling).
   */
  async renewCallouts(eventIds: number[]): Promise<number[]> {
    if (eventIds.length === 0) return [];
    return this.ctx.run((tx) => tx.store.renewCallouts(eventIds, this.ctx.instance, new Date(tx.now().getTime() + this.ctx.calloutLeaseMs).toISOString()));
  }

  /** The call-outs of this event are over; false when another instance had taken them over. */
  async finishCallouts(eventId: number): Promise<boolean> {
    return this.ctx.run((tx) => tx.store.finishCallout(eventId, this.ctx.instance));
  }

  /** An alert for the operators (console, log, metric), journalled. */
  async raiseAlert(a: AlertInput): Promise<number> {
    return this.ctx.run((tx) => raiseAlertIn(tx, a));
  }

  listAlerts(openOnly = true, limit = 100): Promise<AlertRow[]> {
    return this.ctx.read((store) => store.listAlerts(openOnly, Math.min(Math.max(limit, 1), 1000)));
  }

  async ackAlert(a: { id: number; operator: string }): Promise<void> {
    checkOperator(a.operator);
    await this.ctx.run(async (tx) => {
      if (!await tx.store.ackAlert(a.id, a.operator, tx.nowIso())) throw new AppError('NOT_FOUND', `no open alert ${a.id}`);
      await tx.journal({ channel: 'operator', action: 'alert-ack', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `alert=${a.id}` });
    });
  }

  /** One attempt of an alarm call-out, with its result, journalled. */
  async noteCallout(a: { eventId: number; objectCode: string; clientId: number; phone: string; round: number; result: string; startedAt: string }): Promise<void> {
    await this.ctx.run(async (tx) => {
      const id = await tx.store.insertCallout({ eventId: a.eventId, objectCode: a.objectCode, phone: a.phone, round: a.round, at: a.startedAt });
      await tx.store.endCallout(id, a.result, tx.nowIso());
      await tx.journal({
        channel: 'phone', phone: a.phone, clientId: a.clientId, objectCode: a.objectCode, action: a.result === 'acknowledged' ? 'alarm-ack' : 'callout',
        auth: a.result === 'acknowledged' ? 'caller-id' : 'none', outcome: a.result === 'acknowledged' ? 'executed' : 'noted', reason: a.result,
        detail: `event=${a.eventId} round=${a.round}`,
      });
    });
  }
}
