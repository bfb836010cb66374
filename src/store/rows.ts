import type { AlertRow, CallRow, CallUpdate, ChallengeRow, DuressRow, HoldRow, HoldState, MonitoringEventRow, OperatorRow, OutboxRow, PanelRow } from '../core/ports.ts';
import { CALL_ACTIONS_MAX } from '../domain/calls.ts';
import type { JournalRecord } from '../domain/journal.ts';
import type { ClientView, Lang, ObjectStatus, ObjectView } from '../domain/types.ts';
import type { ScheduleRow } from '../core/ports.ts';

/**
 * Rows as both engines read them back into the port's types: the tables have the same columns
 * on SQLite and PostgreSQL, 0/1 flags as integers, times as ISO text.
 */
export type Row = Record<string, unknown>;

export const str = (v: unknown): string | null => (v as string | null) ?? null;
export const numOrNull = (v: unknown): number | null => (v as number | null) ?? null;

export function clientFrom(r: Row): ClientView {
  return {
    id: r.id as number,
    name: r.name as string,
    lang: r.lang as Lang,
    langChosen: r.lang_chosen === 1,
    balance: r.balance as number,
    suspendedAt: str(r.suspended_at),
    createdAt: r.created_at as string,
  };
}

export function objectFrom(r: Row): ObjectView {
  return {
    id: r.id as number,
    clientId: r.client_id as number,
    code: r.code as string,
    address: r.address as string,
    status: r.status as ObjectStatus,
    statusSince: r.status_since as string,
    calloutEnabled: r.callout_enabled === 1,
  };
}



export function challengeFrom(r: Row): ChallengeRow {
  return {
    id: r.id as string,
    purpose: r.purpose as string,
    numberId: r.number_id as number,
    objectId: numOrNull(r.object_id),
    channel: r.channel as string,
    codeHash: r.code_hash as Buffer,
    createdAt: r.created_at as string,
    expiresAt: r.expires_at as string,
    attempts: r.attempts as number,
    state: r.state as ChallengeRow['state'],
    operator: str(r.operator),
  };
}

export function journalFrom(r: Row): JournalRecord {
  return {
    seq: r.seq as number,
    at: r.at as string,
    channel: r.channel as string,
    phone: str(r.phone),
    clientId: numOrNull(r.client_id),
    objectCode: str(r.object_code),
    action: r.action as string,
    auth: r.auth as string,
    challengeId: str(r.challenge_id),
    operator: str(r.operator),
    outcome: r.outcome as string,
    reason: str(r.reason),
    detail: str(r.detail),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}


export function operatorFrom(r: Row): OperatorRow {
  return {
    id: r.id as number, name: r.name as string, role: r.role as 'operator' | 'admin', createdAt: r.created_at as string,
    disabledAt: str(r.disabled_at), tokenIssuedAt: str(r.token_issued_at), tokenExpiresAt: str(r.token_expires_at), lastUsedAt: str(r.last_used_at),
  };
}

export function eventFrom(r: Row): MonitoringEventRow {
  return {
    id: r.id as number, sourceId: r.source_id as string, objectCode: r.object_code as string, type: r.type as string,
    kind: str(r.kind), zone: numOrNull(r.zone), eventAt: r.event_at as string, receivedAt: r.received_at as string,
    processedAt: str(r.processed_at), result: str(r.result),
  };
}

/** An outbox row, without its parts' message ids (each engine reads those its own way). */
export function outboxFrom(r: Row): Omit<OutboxRow, 'messageIds'> {
  return {
    id: r.id as number,
    priority: r.priority as number,
    kind: r.kind as string,
    phone: r.phone as string,
    clientId: numOrNull(r.client_id),
    body: str(r.body),
    bodyEnc: (r.body_enc as Buffer | null) ?? null,
    secret: r.secret === 1,
    state: r.state as string,
    createdAt: r.created_at as string,
    expiresAt: str(r.expires_at),
    attempts: r.attempts as number,
    error: str(r.error),
    updatedAt: r.updated_at as string,
    partsTotal: numOrNull(r.parts_total),
    duplicateRisk: r.duplicate_risk === 1,
    doneAt: str(r.done_at),
  };
}

export function alertFrom(r: Row): AlertRow {
  return {
    id: r.id as number, kind: r.kind as string, clientId: numOrNull(r.client_id), objectCode: str(r.object_code),
    phone: str(r.phone), detail: str(r.detail), createdAt: r.created_at as string,
    acknowledgedAt: str(r.acknowledged_at), acknowledgedBy: str(r.acknowledged_by),
  };
}

export function holdFrom(r: Row): HoldRow {
  return {
    id: Number(r.id), clientId: Number(r.client_id), numberId: Number(r.number_id), objectId: Number(r.object_id),
    action: r.action as HoldRow['action'], channel: r.channel as string, challengeId: str(r.challenge_id), reasons: r.reasons as string,
    state: r.state as HoldState, requestedAt: r.requested_at as string, expiresAt: r.expires_at as string,
    holder: str(r.holder), leaseUntil: str(r.lease_until), calls: Number(r.calls), decidedAt: str(r.decided_at),
    decidedBy: str(r.decided_by), result: str(r.result),
  };
}

// ---------------------------------------------------------------- schedules

/**
 * Schedules from their rows: the heads (object_schedules), and the weekday rules and
 * exceptions of those objects (each ordered by object). One schedule per head, in its order.
 */
export function schedulesFrom(heads: Row[], days: Row[], exceptions: Row[]): ScheduleRow[] {
  const byObject = new Map<number, ScheduleRow>();
  const out = heads.map((h) => {
    const s: ScheduleRow = {
      objectId: Number(h.object_id), days: [], notifyOffSchedule: Number(h.notify_off_schedule) === 1, exceptions: [],
      updatedAt: h.updated_at as string, updatedBy: str(h.updated_by),
    };
    byObject.set(s.objectId, s);
    return s;
  });
  for (const d of days) {
    byObject.get(Number(d.object_id))?.days.push({ weekday: Number(d.weekday), armBy: str(d.arm_by), openFrom: str(d.open_from) });
  }
  for (const e of exceptions) {
    byObject.get(Number(e.object_id))?.exceptions.push({
      date: e.date as string, closed: Number(e.closed) === 1, armBy: str(e.arm_by), openFrom: str(e.open_from), note: str(e.note),
    });
  }
  return out;
}

// ---- duress code

export function duressFrom(r: Row): DuressRow {
  return {
    clientId: r.client_id as number,
    codeHash: r.code_hash ? Buffer.from(r.code_hash as Uint8Array) : null,
    setAt: str(r.set_at),
    clearedAt: str(r.cleared_at),
    changedBy: r.changed_by as string,
  };
}

/**
 * The journal records a client never sees (`JournalFilter.visibleTo`): those of a duress code
 * (the silent alarm, its changes) and the operators' alert it raised. The same SQL on both engines.
 */
export const DURESS_HIDDEN_SQL = "action NOT LIKE 'duress%' AND NOT (action = 'operator-alert' AND COALESCE(reason, '') = 'duress')";

// ---- call history

export function callFrom(r: Row): CallRow {
  return {
    seq: Number(r.seq),
    id: r.id as string,
    direction: r.direction as CallRow['direction'],
    purpose: r.purpose as string,
    phone: str(r.phone),
    clientId: r.client_id === null || r.client_id === undefined ? null : Number(r.client_id),
    objectCode: str(r.object_code),
    startedAt: r.started_at as string,
    answeredAt: str(r.answered_at),
    endedAt: str(r.ended_at),
    outcome: str(r.outcome),
    actions: JSON.parse((r.actions as string | null) ?? '[]') as string[],
    eventId: r.event_id === null || r.event_id === undefined ? null : Number(r.event_id),
    round: numOrNull(r.round),
  };
}

/** The actions column after appending `more` to the stored list (capped at `CALL_ACTIONS_MAX`). */
export function appendedActions(stored: unknown, more: string[]): string {
  const list = JSON.parse((stored as string | null) ?? '[]') as string[];
  return JSON.stringify([...list, ...more].slice(0, CALL_ACTIONS_MAX));
}

/** The values of a call update, as both engines bind them (null: leave as it is). */
export function callUpdateValues(u: CallUpdate): Array<string | number | null> {
  return [u.answeredAt ?? null, u.clientId ?? null, u.objectCode ?? null, u.phone ?? null, u.endedAt ?? null, u.outcome ?? null];
}

// ---------------------------------------------------------------- alarm panels

/** A panel account joined with its object's code (`object_code`). */
export function panelFrom(r: Row): PanelRow {
  return {
    account: r.account as string, objectId: Number(r.object_id), objectCode: r.object_code as string, keySealed: str(r.key_sealed),
    supervisionS: Number(r.supervision_s), link: r.link as PanelRow['link'], lastSeenAt: str(r.last_seen_at), dueMs: Number(r.due_ms),
    lostAt: str(r.lost_at), lastFrame: str(r.last_frame), lastFrameMs: r.last_frame_ms === null || r.last_frame_ms === undefined ? null : Number(r.last_frame_ms), createdAt: r.created_at as string, updatedAt: r.updated_at as string, updatedBy: str(r.updated_by),
  };
}

/** Panel accounts with their object's code. */
export const PANEL_SELECT = 'SELECT p.*, o.code AS object_code FROM panel_accounts p JOIN objects o ON o.id = p.object_id';
