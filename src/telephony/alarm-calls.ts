import type { TelephonyCore } from '../core/channels.ts';
import type { CalloutPlan } from '../core/core.ts';
import { UNSILENCEABLE_KINDS } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import type { CalloutRequest, CalloutResult } from './service.ts';

export interface AlarmCallOptions {
  core: TelephonyCore;
  callOut: (r: CalloutRequest) => Promise<CalloutResult>;
  logger: Logger;
  /** Rounds down the contact list. */
  rounds?: number;
  /** Pause between rounds. */
  roundPauseMs?: number;
  /** Nobody acknowledged within this time: the operators are alerted. */
  ackTimeoutMs?: number;
  ringSec?: number;
  /**
   * Aborted when this instance lost its claim on the call-outs (another instance took them
   * over): no further call is placed and no alert raised here; the new holder does both.
   */
  signal?: AbortSignal;
}

/**
 * Robot call-outs about an alarm: down the ordered contact list until someone presses 1,
 * round after round with a pause, never calling again a number that rejected the call. Each
 * attempt and the acknowledgement are journalled by the core. Resolves with the outcome.
 */
export async function runAlarmCalls(plan: CalloutPlan, o: AlarmCallOptions): Promise<{ acknowledgedBy: string | null; attempts: number }> {
  const rounds = o.rounds ?? 3;
  const pause = o.roundPauseMs ?? 60_000;
  const loud = UNSILENCEABLE_KINDS.has(plan.kind);
  const rejected = new Set<string>();
  let acknowledgedBy: string | null = null;
  let attempts = 0;
  let alerted = false;
  const alert = async (why: string): Promise<void> => {
    if (alerted) return;
    alerted = true;
    o.logger.warn({ object: plan.objectCode, kind: plan.kind, why }, 'alarm needs an operator');
    await o.core.raiseAlert({ kind: 'alarm-unacknowledged', clientId: plan.clientId, objectCode: plan.objectCode, phone: null, detail: `${plan.kind}: ${why}` });
  };
  const lost = (): boolean => o.signal?.aborted === true;
  const timer = setTimeout(() => {
    if (acknowledgedBy || lost()) return;
    alert(`no acknowledgement within ${Math.round((o.ackTimeoutMs ?? 300_000) / 1000)} s`)
      .catch((err: unknown) => o.logger.error({ err, object: plan.objectCode }, 'the operators could not be alerted'));
  }, o.ackTimeoutMs ?? 300_000);
  timer.unref();
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const c of plan.contacts) {
        if (rejected.has(c.phone)) continue;
        if (acknowledgedBy && !loud) break;
        if (lost()) return { acknowledgedBy, attempts };
        const startedAt = new Date().toISOString();
        const result = await o.callOut({
          phone: c.phone, lang: c.lang, objectCode: plan.objectCode, kind: plan.kind, zone: plan.zone, ...(o.ringSec ? { ringSec: o.ringSec } : {}),
          purpose: 'alarm', ref: { eventId: plan.eventId, round, clientId: plan.clientId },
        });
        attempts++;
        await o.core.noteCallout({ eventId: plan.eventId, objectCode: plan.objectCode, clientId: plan.clientId, phone: c.phone, round, result, startedAt });
        if (result === 'rejected') rejected.add(c.phone);
        if (result === 'acknowledged' && !acknowledgedBy) acknowledgedBy = c.phone;
      }
      if (acknowledgedBy && !loud) break;
      if (loud && acknowledgedBy) break; // everyone was called once after an acknowledgement
      if (round < rounds && plan.contacts.some((c) => !rejected.has(c.phone))) await new Promise((r) => setTimeout(r, pause));
    }
    if (lost()) return { acknowledgedBy, attempts };
    if (!acknowledgedBy) await alert(`nobody acknowledged after ${attempts} call(s)`);
    else if (loud) await alert(`acknowledged by a client; ${plan.kind} alarms always go to an operator`);
  } finally {
    clearTimeout(timer);
  }
  return { acknowledgedBy, attempts };
}
