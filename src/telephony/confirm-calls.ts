import type { HoldCallPlan, HoldDecision } from '../core/confirmations.ts';
import type { HoldState } from '../core/ports.ts';
import type { Logger } from '../logger.ts';
import type { CalloutRequest, CalloutResult } from './service.ts';

/** What a confirmation call-back needs of the core. */
export interface HoldCallCore {
  holdState(id: number): Promise<HoldState | null>;
  noteHoldCall(a: { holdId: number; phone: string; result: string }): Promise<void>;
  decideHold(id: number, d: HoldDecision): Promise<{ changed: boolean }>;
}

export interface ConfirmCallOptions {
  core: HoldCallCore;
  callOut: (r: CalloutRequest) => Promise<CalloutResult>;
  logger: Logger;
  /** Rounds down the list of trusted numbers (default 2). */
  rounds?: number;
  /** Pause between rounds (default 30 s). */
  roundPauseMs?: number;
  ringSec?: number;
  /** Aborted when this instance lost its claim on the hold (another instance calls now). */
  signal?: AbortSignal;
}

/**
 * The confirmation call-back of a held request: the client's trusted numbers (the requesting
 * number first) are called in turn, round after round, until one answers with key 1 (the
 * request is confirmed and executed) or key 2 (refused); a number that rejects the call is not
 * called again. Nobody answering refuses the request (and alerts the operators). Before each
 * call the hold is read again: an operator may have decided it meanwhile. Each call is
 * journalled. Resolves with how the hold ended here ('lost' when another instance took it).
 */
export async function runConfirmCalls(plan: HoldCallPlan, o: ConfirmCallOptions): Promise<'confirmed' | 'refused' | 'unanswered' | 'decided' | 'lost'> {
  const rounds = o.rounds ?? 2;
  const pause = o.roundPauseMs ?? 30_000;
  const rejected = new Set<string>();
  const lost = (): boolean => o.signal?.aborted === true;
  const open = async (): Promise<boolean> => (await o.core.holdState(plan.holdId)) === 'calling';
  for (let round = 1; round <= rounds; round++) {
    for (const c of plan.contacts) {
      if (rejected.has(c.phone)) continue;
      if (lost()) return 'lost';
      if (!(await open())) return 'decided';
      const result = await o.callOut({
        phone: c.phone, lang: c.lang, objectCode: plan.objectCode, kind: 'confirm', purpose: 'confirm', ref: { clientId: plan.clientId },
        confirm: { action: plan.action, channel: plan.channel, requestedAt: plan.requestedAt },
        ...(o.ringSec ? { ringSec: o.ringSec } : {}),
      });
      await o.core.noteHoldCall({ holdId: plan.holdId, phone: c.phone, result });
      if (lost()) return 'lost';
      if (result === 'confirmed' || result === 'refused') {
        const r = await o.core.decideHold(plan.holdId, { decision: result === 'confirmed' ? 'confirm' : 'refuse', phone: c.phone });
        if (!r.changed) return 'decided';
        o.logger.info({ hold: plan.holdId, object: plan.objectCode, result }, 'held request decided by call-back');
        return result;
      }
      if (result === 'rejected') rejected.add(c.phone);
    }
    if (round < rounds && plan.contacts.some((c) => !rejected.has(c.phone))) {
      await new Promise((r) => setTimeout(r, pause).unref());
    }
  }
  if (lost()) return 'lost';
  const r = await o.core.decideHold(plan.holdId, { decision: 'refuse', why: 'confirmation-unanswered' });
  return r.changed ? 'unanswered' : 'decided';
}
