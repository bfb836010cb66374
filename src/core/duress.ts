import { duressMatches } from '../domain/duress.ts';
import type { Channel, ClientView, NumberView, ObjectView } from '../domain/types.ts';
import { raiseAlertIn } from './alarms.ts';
import type { Tx } from './context.ts';

/** Whether a code typed for a disarm is the client's duress code. */
export async function isDuressCode(tx: Tx, clientId: number, typed: string): Promise<boolean> {
  const row = await tx.store.getDuress(clientId);
  return duressMatches(tx.ctx.keys.duress, clientId, typed, row?.codeHash ?? null);
}

/**
 * The silent panic alarm of a duress code, in the transaction of the disarm it carried out:
 * an operators' record next to the disarm's document and an operators' alert (console, log,
 * metric). Nothing goes to the client's numbers, and the client's own views never show it.
 */
export async function duressAlarm(tx: Tx, a: {
  client: ClientView; number: NumberView; object: ObjectView; channel: Channel; challengeId: string; seq: number;
}): Promise<void> {
  await tx.journal({
    channel: a.channel, phone: a.number.phone, clientId: a.client.id, objectCode: a.object.code, action: 'duress', auth: 'duress-code',
    challengeId: a.challengeId, outcome: 'accepted', detail: `silent alarm; the disarm is document ${a.seq}`,
  });
  await raiseAlertIn(tx, {
    kind: 'duress', clientId: a.client.id, objectCode: a.object.code, phone: a.number.phone,
    detail: `DURESS: a duress code disarmed object ${a.object.code} on ${a.channel}; the client may be under threat`,
  });
}
