import { CALL_ACTIONS_MAX, CALL_ID_MAX, CALL_RAW_PHONE_MAX, callAction, checkCallPurpose, parseTimeBound } from '../domain/calls.ts';
import type { CallDirection } from '../domain/calls.ts';
import { AppError } from '../domain/errors.ts';
import { parsePhone, tryParsePhone } from '../domain/phone.ts';
import { checkObjectCode } from './context.ts';
import type { CoreContext } from './context.ts';
import type { CallRow, CallUpdate } from './ports.ts';

/** A call as the phone channel starts it. */
export interface CallStart {
  /** The ARI channel id. */
  id: string;
  direction: CallDirection;
  purpose: string;
  /** The caller id (incoming) or the number called; kept in E.164 when it is a Kazakhstan number. */
  phone: string | null;
  clientId?: number | null;
  objectCode?: string | null;
  /** Alarm call-outs: the monitoring event and the round. */
  eventId?: number | null;
  round?: number | null;
}

/** What became known on a call, and what was done on it (appended in order). */
export interface CallProgress {
  id: string;
  answeredAt?: string;
  clientId?: number;
  objectCode?: string;
  actions?: string[];
}

/** The end of a call: how it ended, and what was done since the last progress. */
export interface CallEnd extends CallProgress {
  outcome: string;
}

/** The operators' filters of the history; times as ISO with zone or YYYY-MM-DD (a local day's start). */
export interface CallQuery {
  objectCode?: string;
  phone?: string;
  purpose?: string;
  from?: string;
  until?: string;
  limit?: number;
  before?: number;
}

/** The stored form of a number: E.164 when it is a Kazakhstan number, else the raw text cut short. */
function storedPhone(raw: string | null | undefined): string | null {
  if (!raw) return null;
  return tryParsePhone(raw)?.e164 ?? String(raw).slice(0, CALL_RAW_PHONE_MAX);
}

function checkId(id: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > CALL_ID_MAX) throw new AppError('BAD_INPUT', 'a call id is 1 to 128 characters');
  return id;
}

/**
 * The call history: a row per call, written when it starts (a call the process never finished
 * stays without an end), as it goes on and when it ends. Each write is one small transaction;
 * nothing here is journalled (the journal has the call's requests already).
 */
export class Calls {
  constructor(private readonly ctx: CoreContext) {}

  async callStarted(c: CallStart): Promise<void> {
    const id = checkId(c.id);
    if (c.direction !== 'in' && c.direction !== 'out') throw new AppError('BAD_INPUT', 'direction is in or out');
    const purpose = checkCallPurpose(c.purpose);
    await this.ctx.run((tx) => tx.store.insertCall({
      id, direction: c.direction, purpose, phone: storedPhone(c.phone), clientId: c.clientId ?? null, objectCode: c.objectCode ?? null,
      startedAt: tx.nowIso(), eventId: c.eventId ?? null, round: c.round ?? null,
    }));
  }

  /** Appends actions and sets what became known; false when no such call was started. */
  callProgress(p: CallProgress): Promise<boolean> {
    return this.update(p, {});
  }

  /** Ends the call (once: a second end changes neither its time nor its outcome). */
  async callEnded(e: CallEnd): Promise<boolean> {
    const outcome = callAction(e.outcome);
    if (!outcome) throw new AppError('BAD_INPUT', 'a call ends with an outcome');
    return this.update(e, { outcome });
  }

  private update(p: CallProgress, end: { outcome?: string }): Promise<boolean> {
    const id = checkId(p.id);
    const actions = (p.actions ?? []).map(callAction).filter(Boolean).slice(0, CALL_ACTIONS_MAX);
    return this.ctx.run((tx) => {
      const u: CallUpdate = {
        ...(p.answeredAt ? { answeredAt: p.answeredAt } : {}),
        ...(p.clientId !== undefined ? { clientId: p.clientId } : {}),
        ...(p.objectCode ? { objectCode: p.objectCode } : {}),
        ...(actions.length ? { actions } : {}),
        ...(end.outcome ? { outcome: end.outcome, endedAt: tx.nowIso() } : {}),
      };
      return tx.store.updateCall(id, u);
    });
  }

  /** The history, newest first; bad filters throw BAD_INPUT (or BAD_PHONE) and read nothing. */
  async listCalls(q: CallQuery): Promise<CallRow[]> {
    const limit = q.limit ?? 50;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new AppError('BAD_INPUT', 'limit must be 1 to 1000');
    if (q.before !== undefined && (!Number.isSafeInteger(q.before) || q.before < 1)) throw new AppError('BAD_INPUT', 'before must be a positive integer');
    const from = q.from ? parseTimeBound(q.from, this.ctx.timeZone, 'from') : undefined;
    const until = q.until ? parseTimeBound(q.until, this.ctx.timeZone, 'until') : undefined;
    if (from && until && from >= until) throw new AppError('BAD_INPUT', 'from must be before until');
    const f = {
      limit,
      ...(q.objectCode ? { objectCode: checkObjectCode(q.objectCode) } : {}),
      ...(q.phone ? { phone: parsePhone(q.phone).e164 } : {}),
      ...(q.purpose ? { purpose: checkCallPurpose(q.purpose) } : {}),
      ...(from ? { from } : {}),
      ...(until ? { until } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
    };
    return this.ctx.read((store) => store.listCalls(f));
  }
}
