import { AppError } from '../domain/errors.ts';
import { maskPhone } from '../domain/phone.ts';
import {
  DEFAULT_RULES, NO_EXTRA_RULES, holdReasons, mergeRules, parseRules, storedRules,
} from '../domain/policy.ts';
import type { ConfirmationRules, HoldReason } from '../domain/policy.ts';
import { localNow } from '../domain/schedule.ts';
import { holdText } from '../domain/texts.ts';
import type { ClientView, Lang, NumberView, ObjectView } from '../domain/types.ts';
import { raiseAlertIn } from './alarms.ts';
import { applyStatus, checkOperator, mustClient } from './context.ts';
import type { CoreContext, Tx } from './context.ts';
import { OPEN_HOLD_STATES } from './ports.ts';
import type { HoldRow, HoldState, StoreTx } from './ports.ts';

/** The company's confirmation rules (settings table, JSON). */
export const SETTING_RULES = 'policy.rules';
/** A client's own, stricter rules. */
export function clientRulesKey(clientId: number): string {
  return `policy.client.${clientId}`;
}

/** A held request waits this long for its call-back or an operator before it is refused. */
export const HOLD_TTL_MS = 15 * 60_000;
/** Refusals that make the next request of the hour wait for confirmation (`recentRefusal`). */
const REFUSALS = new Set(['code-dead', 'confirmation-refused', 'confirmation-unanswered', 'confirmation-expired']);

export async function companyRules(store: StoreTx): Promise<ConfirmationRules> {
  return storedRules(await store.getSetting(SETTING_RULES), DEFAULT_RULES, true);
}

/** A client's own rules, or null when the company's apply unchanged. */
export async function clientRules(store: StoreTx, clientId: number): Promise<ConfirmationRules | null> {
  const text = await store.getSetting(clientRulesKey(clientId));
  return text ? storedRules(text, NO_EXTRA_RULES, false) : null;
}

export async function rulesFor(store: StoreTx, clientId: number): Promise<ConfirmationRules> {
  return mergeRules(await companyRules(store), await clientRules(store, clientId));
}

/** The conditions of `rules` (the client's, merged) this request meets (empty: no call-back needed). Reads only what the rules ask about. */
export async function holdReasonsFor(tx: Tx, rules: ConfirmationRules, a: { client: ClientView; number: NumberView; channel: string; action: string }): Promise<HoldReason[]> {
  if (!(rules.callback.actions as string[]).includes(a.action)) return [];
  const now = tx.now();
  const c = rules.callback;
  let channelUsedBefore = true;
  if (c.newChannel) {
    // a use is a request about the objects (a sign-in or a call that did nothing is not)
    const seen = async (action: string, outcome: string): Promise<boolean> =>
      (await tx.store.searchJournal({ clientId: a.client.id, channel: a.channel, action, outcome, limit: 1 })).length > 0;
    channelUsedBefore = (await seen('disarm', 'executed')) || (await seen('arm', 'executed')) || (await seen('status', 'accepted'));
  }
  let recentRefusal = false;
  if (c.recentRefusal) {
    const since = new Date(now.getTime() - 3_600_000).toISOString();
    recentRefusal = (await tx.store.searchJournal({ clientId: a.client.id, outcome: 'refused', since, limit: 200 }))
      .some((r) => r.reason !== null && REFUSALS.has(r.reason));
  }
  return holdReasons(rules, {
    action: a.action, channel: a.channel as 'sms', localMinutes: localNow(now, tx.ctx.timeZone).minutes,
    numberAgeDays: (now.getTime() - Date.parse(a.number.updatedAt)) / 86_400_000, channelUsedBefore, recentRefusal,
  });
}

function emitHold(tx: Tx, h: { id: number; clientId: number; action: string }, objectCode: string, state: HoldState): void {
  tx.emit({ type: 'hold', id: h.id, clientId: h.clientId, objectCode, action: h.action, state });
}

/** Holds a request: waiting for its code first (`challengeId`), or for confirmation at once. */
export async function openHold(tx: Tx, a: {
  client: ClientView; number: NumberView; object: ObjectView; action: 'arm' | 'disarm'; channel: string;
  challengeId: string | null; codeExpiresAt?: string; reasons: string[];
}): Promise<number> {
  const now = tx.now();
  const state: HoldState = a.challengeId ? 'awaiting-code' : 'pending';
  const expiresAt = a.challengeId && a.codeExpiresAt ? a.codeExpiresAt : new Date(now.getTime() + HOLD_TTL_MS).toISOString();
  const id = await tx.store.insertHold({
    clientId: a.client.id, numberId: a.number.id, objectId: a.object.id, action: a.action, channel: a.channel,
    challengeId: a.challengeId, reasons: a.reasons.join(','), state, requestedAt: now.toISOString(), expiresAt,
  });
  emitHold(tx, { id, clientId: a.client.id, action: a.action }, a.object.code, state);
  return id;
}

/** The code of a held request came back right: it now waits for the call-back (or an operator). */
export async function codeArrived(tx: Tx, hold: HoldRow, objectCode: string): Promise<boolean> {
  const moved = await tx.store.moveHold(hold.id, ['awaiting-code'], 'pending', { expiresAt: new Date(tx.now().getTime() + HOLD_TTL_MS).toISOString() });
  if (moved) emitHold(tx, hold, objectCode, 'pending');
  return moved;
}

export type HoldDecision =
  | { decision: 'confirm' | 'refuse'; operator: string }
  | { decision: 'confirm' | 'refuse'; phone: string }
  | { decision: 'refuse'; why: 'confirmation-unanswered' | 'confirmation-expired' | 'no-contact' };

export interface HoldView extends HoldRow {
  objectCode: string;
  phone: string;
  clientName: string;
}

/** A call-back to make: who to call (the requesting number first), about what. */
export interface HoldCallPlan {
  holdId: number;
  clientId: number;
  objectCode: string;
  action: 'arm' | 'disarm';
  channel: string;
  requestedAt: string;
  contacts: Array<{ phone: string; lang: Lang }>;
}

/** Documents held for the client's confirmation (agreement 5.10) and the rules that hold them. */
export class Confirmations {
  constructor(private readonly ctx: CoreContext) {}

  // ---------------------------------------------------------------- rules

  async rules(clientId?: number): Promise<{ company: ConfirmationRules; client: ConfirmationRules | null; effective: ConfirmationRules }> {
    return this.ctx.read(async (s) => {
      const company = await companyRules(s);
      if (clientId === undefined) return { company, client: null, effective: company };
      await mustClient(s, clientId);
      const client = await clientRules(s, clientId);
      return { company, client, effective: mergeRules(company, client) };
    });
  }

  /** An admin changes the company's rules (fields left out keep their value); journalled. */
  async setCompanyRules(a: { rules: unknown; operator: string }): Promise<ConfirmationRules> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const before = await companyRules(tx.store);
      const next = parseRules(a.rules, before, { floor: true });
      const text = JSON.stringify(next);
      await tx.store.setSetting(SETTING_RULES, text, tx.nowIso(), a.operator);
      await tx.journal({ channel: 'operator', action: 'policy-change', auth: 'operator', operator: a.operator, outcome: 'executed', detail: text.slice(0, 900) });
      return next;
    });
  }

  /**
   * A client's own rules (a signed application): they only add steps to the company's, never
   * remove one; `null` goes back to the company's rules. Journalled.
   */
  async setClientRules(a: { clientId: number; rules: unknown; operator: string }): Promise<ConfirmationRules | null> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const client = await mustClient(tx.store, a.clientId);
      const key = clientRulesKey(client.id);
      let text: string;
      let next: ConfirmationRules | null;
      if (a.rules === null) {
        next = null;
        text = '';
      } else {
        next = parseRules(a.rules, (await clientRules(tx.store, client.id)) ?? NO_EXTRA_RULES, { floor: false });
        text = JSON.stringify(next);
      }
      await tx.store.setSetting(key, text, tx.nowIso(), a.operator);
      await tx.journal({
        channel: 'operator', clientId: client.id, action: 'policy-change', auth: 'operator', operator: a.operator, outcome: 'executed',
        detail: (text || 'client rules cleared').slice(0, 900),
      });
      return next;
    });
  }

  // ---------------------------------------------------------------- holds

  async listHolds(a: { open?: boolean; clientId?: number; limit?: number }): Promise<HoldView[]> {
    const limit = Math.min(Math.max(a.limit ?? 100, 1), 500);
    return this.ctx.read(async (s) => {
      const rows = await s.listHolds({ ...(a.open ? { open: true } : {}), ...(a.clientId !== undefined ? { clientId: a.clientId } : {}), limit });
      return Promise.all(rows.map((h) => viewOf(s, h)));
    });
  }

  async getHold(id: number): Promise<HoldView> {
    return this.ctx.read(async (s) => viewOf(s, await mustHold(s, id)));
  }

  /** An operator holds a document that waits for its code: once the code comes back it waits for confirmation too. */
  async holdDocument(a: { challengeId: string; operator: string }): Promise<HoldView> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const s = tx.store;
      const ch = typeof a.challengeId === 'string' && a.challengeId.length <= 64 ? await s.getChallenge(a.challengeId) : undefined;
      if (!ch) throw new AppError('NOT_FOUND', 'no such document');
      if (ch.state !== 'pending' || Date.parse(ch.expiresAt) <= tx.now().getTime()) throw new AppError('CONFLICT', 'the document no longer waits for its code');
      if ((ch.purpose !== 'arm' && ch.purpose !== 'disarm') || ch.objectId === null) throw new AppError('BAD_INPUT', 'only arm and disarm requests can be held for confirmation');
      const existing = await s.holdForChallenge(ch.id);
      if (existing) return viewOf(s, existing);
      const number = await s.getNumber(ch.numberId);
      const object = await s.getObject(ch.objectId);
      const client = number ? await s.getClient(number.clientId) : undefined;
      if (!number || !object || !client) throw new AppError('NOT_FOUND', 'the document refers to a removed number or object');
      const id = await openHold(tx, {
        client, number, object, action: ch.purpose, channel: ch.channel, challengeId: ch.id, codeExpiresAt: ch.expiresAt, reasons: ['operator'],
      });
      await tx.journal({
        channel: 'operator', clientId: client.id, phone: number.phone, objectCode: object.code, action: 'hold', auth: 'operator', operator: a.operator,
        outcome: 'executed', challengeId: ch.id, detail: `hold ${id}: ${ch.purpose} waits for confirmation`,
      });
      return viewOf(s, await mustHold(s, id));
    });
  }

  /** Confirms (executes) or refuses a held request; false when it was decided already. */
  decide(id: number, d: HoldDecision): Promise<{ changed: boolean; hold: HoldView }> {
    if ('operator' in d) checkOperator(d.operator);
    return this.ctx.run(async (tx) => {
      const h = await mustHold(tx.store, id);
      const changed = await decideIn(tx, h, d);
      return { changed, hold: await viewOf(tx.store, (await tx.store.getHold(id)) as HoldRow) };
    });
  }

  /** Claims the holds whose call-back this instance places (see `StoreTx.claimHolds`). */
  async takeHoldCalls(running: number[], leaseMs: number): Promise<HoldCallPlan[]> {
    // asked every second by every instance: a read finds whether there is anything to claim,
    // so that an idle service opens no write transaction
    const nowIso = this.ctx.nowIso();
    const open = await this.ctx.read((s) => s.listHolds({ open: true, limit: 500 }));
    const claimable = open.length === 500 || open.some((h) => h.state === 'pending' || (h.state === 'calling'
      && (h.leaseUntil === null || h.leaseUntil <= nowIso || (h.holder === this.ctx.instance && !running.includes(h.id)))));
    if (!claimable) return [];
    return this.ctx.run(async (tx) => {
      const now = tx.now();
      const rows = await tx.store.claimHolds(this.ctx.instance, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), running);
      const plans: HoldCallPlan[] = [];
      for (const h of rows) {
        const plan = await planOf(tx.store, h);
        if (plan.contacts.length === 0) {
          await decideIn(tx, h, { decision: 'refuse', why: 'no-contact' });
          continue;
        }
        plans.push(plan);
      }
      return plans;
    });
  }

  renewHoldCalls(ids: number[], leaseMs: number): Promise<number[]> {
    return this.ctx.run((tx) => tx.store.renewHolds(ids, this.ctx.instance, new Date(tx.now().getTime() + leaseMs).toISOString()));
  }

  /** The state of a hold now (a call-back asks before each call). */
  holdState(id: number): Promise<HoldState | null> {
    return this.ctx.read(async (s) => (await s.getHold(id))?.state ?? null);
  }

  /** One call-back call and its result, journalled. */
  noteHoldCall(a: { holdId: number; phone: string; result: string }): Promise<void> {
    return this.ctx.run(async (tx) => {
      const h = await mustHold(tx.store, a.holdId);
      const object = await tx.store.getObject(h.objectId);
      await tx.store.countHoldCall(h.id);
      await tx.journal({
        channel: 'phone', phone: a.phone, clientId: h.clientId, objectCode: object?.code ?? null, action: 'confirm-call', auth: 'none',
        outcome: 'accepted', challengeId: h.challengeId, detail: `hold ${h.id} ${a.result}`,
      });
    });
  }

  /** Holds whose time ran out: waiting for a code, they lapse; waiting for confirmation, they are refused (and operators alerted). */
  async expireHolds(): Promise<number> {
    // asked every second by every instance: a write transaction only when something is due
    if ((await this.ctx.read((s) => s.dueHolds(this.ctx.nowIso(), 1))).length === 0) return 0;
    return this.ctx.run(async (tx) => {
      const due = await tx.store.dueHolds(tx.nowIso(), 50);
      let n = 0;
      for (const h of due) {
        if (h.state === 'awaiting-code') {
          if (await tx.store.moveHold(h.id, ['awaiting-code'], 'expired', { decidedAt: tx.nowIso(), result: 'code-not-entered' })) n++;
        } else if (await decideIn(tx, h, { decision: 'refuse', why: 'confirmation-expired' })) {
          n++;
        }
      }
      return n;
    });
  }
}

async function mustHold(s: StoreTx, id: number): Promise<HoldRow> {
  if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('BAD_INPUT', 'hold id must be a positive integer');
  const h = await s.getHold(id);
  if (!h) throw new AppError('NOT_FOUND', `no held document ${id}`);
  return h;
}

async function viewOf(s: StoreTx, h: HoldRow): Promise<HoldView> {
  const [object, number, client] = [await s.getObject(h.objectId), await s.getNumber(h.numberId), await s.getClient(h.clientId)];
  return { ...h, objectCode: object?.code ?? '', phone: number?.phone ?? '', clientName: client?.name ?? '' };
}

async function planOf(s: StoreTx, h: HoldRow): Promise<HoldCallPlan> {
  const object = await s.getObject(h.objectId);
  const client = await s.getClient(h.clientId);
  const contacts: Array<{ phone: string; lang: Lang }> = [];
  if (object && client && !client.suspendedAt) {
    const numbers = (await s.listNumbers(client.id))
      .filter((n) => n.state === 'active' && (n.allObjects || n.objectCodes.includes(object.code)))
      .sort((a, b) => (a.id === h.numberId ? -1 : b.id === h.numberId ? 1 : a.id - b.id));
    for (const n of numbers) contacts.push({ phone: n.phone, lang: client.lang });
  }
  return { holdId: h.id, clientId: h.clientId, objectCode: object?.code ?? '', action: h.action, channel: h.channel, requestedAt: h.requestedAt, contacts };
}

/**
 * Decides a hold in the caller's transaction. A confirmation executes the request (if the
 * number may still do it) and tells the requesting number by SMS; a refusal revokes a code
 * still pending, tells the requesting number, and alerts the operators unless an operator
 * refused. False when the hold was decided already.
 */
async function decideIn(tx: Tx, h: HoldRow, d: HoldDecision): Promise<boolean> {
  const s = tx.store;
  const now = tx.nowIso();
  const object = await s.getObject(h.objectId);
  const number = await s.getNumber(h.numberId);
  const client = await s.getClient(h.clientId);
  if (!object || !number || !client) return false;
  const by = 'operator' in d ? d.operator : 'phone' in d ? `call-back ${maskPhone(d.phone)}` : 'system';
  const base = {
    channel: h.channel as 'sms', phone: number.phone, clientId: client.id, objectCode: object.code, action: h.action,
    challengeId: h.challengeId, operator: 'operator' in d ? d.operator : null,
  } as const;
  const auth = 'operator' in d ? 'operator' : 'phone' in d ? 'callback' : 'none';
  const tell = async (key: 'holdDone' | 'holdRefused'): Promise<void> => {
    await tx.enqueue({
      priority: 'info', kind: 'hold', phone: number.phone, clientId: client.id, text: holdText(key, client.lang, h.action, object.code), secret: false, expiresAt: null,
    });
  };

  if (d.decision === 'confirm') {
    const allowed = number.state === 'active' && !client.suspendedAt && (await s.objectsForNumber(number)).some((o) => o.id === object.id);
    if (!allowed) return decideIn(tx, h, { decision: 'refuse', why: 'no-contact' });
    if (!(await s.moveHold(h.id, ['pending', 'calling'], 'confirmed', { decidedAt: now, decidedBy: by, result: 'confirmed' }))) return false;
    const r = await applyStatus(tx, object, h.action === 'arm' ? 'armed' : 'disarmed', h.action);
    await tx.journal({ ...base, auth, outcome: 'executed', detail: `hold ${h.id} confirmed by ${by}${r.changed ? '' : ' unchanged'}` });
    emitHold(tx, h, object.code, 'confirmed');
    await tell('holdDone');
    return true;
  }

  const reason = 'why' in d ? d.why : 'confirmation-refused';
  if (!(await s.moveHold(h.id, OPEN_HOLD_STATES, 'refused', { decidedAt: now, decidedBy: by, result: reason }))) return false;
  if (h.challengeId) {
    const ch = await s.getChallenge(h.challengeId);
    if (ch?.state === 'pending') await s.updateChallenge(ch.id, ch.attempts, 'revoked');
  }
  await tx.journal({ ...base, auth, outcome: 'refused', reason, detail: `hold ${h.id} refused by ${by}` });
  emitHold(tx, h, object.code, 'refused');
  if (!('operator' in d)) {
    await raiseAlertIn(tx, {
      kind: 'confirmation-refused', clientId: client.id, objectCode: object.code, phone: number.phone,
      detail: `${h.action} of ${object.code} requested by ${h.channel} from ${maskPhone(number.phone)} not confirmed: ${reason}`,
    });
  }
  // a request still waiting for its code was never confirmed to the client: nothing to tell
  if (h.state !== 'awaiting-code') await tell('holdRefused');
  return true;
}
