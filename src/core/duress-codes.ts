import { DURESS_CLEAR, DURESS_SET, checkDuressCode, duressHash, isDuressPurpose } from '../domain/duress.ts';
import { AppError } from '../domain/errors.ts';
import type { Lang } from '../domain/types.ts';
import { confirmIn, createChallenge } from './challenges.ts';
import type { ConfirmRefusal } from './challenges.ts';
import { identify } from './client-requests.ts';
import type { RefusalReason } from '../domain/types.ts';
import { checkOperator, mustClient } from './context.ts';
import type { CoreContext, Tx } from './context.ts';
import type { StoreTx } from './ports.ts';

/** Whether a client has a duress code, and since when; never the code or its hash. */
export interface DuressStatus {
  set: boolean;
  since: string | null;
  clearedAt: string | null;
}

export type DuressRequestResult =
  | { kind: 'challenge'; challengeId: string; expiresAt: string; lang: Lang; seq: number }
  | { kind: 'refused'; reason: RefusalReason; lang: Lang; retryAfterMs?: number; limit?: 'pause' | 'budget' };

export type DuressConfirmResult =
  | { kind: 'done'; change: 'set' | 'cleared'; seq: number }
  | { kind: 'refused'; reason: ConfirmRefusal; attemptsLeft?: number };

async function statusOf(store: StoreTx, clientId: number): Promise<DuressStatus> {
  const row = await store.getDuress(clientId);
  return { set: Boolean(row?.codeHash), since: row?.codeHash ? row.setAt : null, clearedAt: row?.clearedAt ?? null };
}

/**
 * Setting and clearing a client's duress code: by an operator holding the client's signed
 * application, or by the client in the app after a one-time code. The code is checked before
 * anything changes and stored only as an HMAC bound to the client; no document carries it.
 */
export class DuressCodes {
  constructor(private readonly ctx: CoreContext) {}

  async status(clientId: number): Promise<DuressStatus> {
    return this.ctx.read(async (store) => {
      await mustClient(store, clientId);
      return statusOf(store, clientId);
    });
  }

  /** An operator sets the code from the client's signed application; journalled without the code. */
  async set(a: { clientId: number; code: unknown; signed: boolean; operator: string }): Promise<DuressStatus> {
    checkOperator(a.operator);
    if (a.signed !== true) {
      throw new AppError('BAD_INPUT', 'a duress code is set only from the client\'s signed application: confirm it with signed: true (--signed)');
    }
    const code = checkDuressCode(a.code);
    return this.ctx.run(async (tx) => {
      await mustClient(tx.store, a.clientId);
      await this.store(tx, a.clientId, code, a.operator);
      await tx.journal({ channel: 'operator', clientId: a.clientId, action: DURESS_SET, auth: 'operator', operator: a.operator, outcome: 'executed', detail: 'signed application' });
      return statusOf(tx.store, a.clientId);
    });
  }

  /** An operator clears the code; journalled. */
  async clear(a: { clientId: number; operator: string }): Promise<DuressStatus> {
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      await mustClient(tx.store, a.clientId);
      const was = await statusOf(tx.store, a.clientId);
      await this.store(tx, a.clientId, null, a.operator);
      await tx.journal({ channel: 'operator', clientId: a.clientId, action: DURESS_CLEAR, auth: 'operator', operator: a.operator, outcome: 'executed', detail: was.set ? null : 'none was set' });
      return statusOf(tx.store, a.clientId);
    });
  }

  /** The client asks, in the app, to set or clear the code: a one-time code goes by SMS. */
  async request(a: { channel: 'app' | 'chat'; phone: string; change: 'set' | 'clear'; ref?: string }): Promise<DuressRequestResult> {
    const purpose = a.change === 'set' ? DURESS_SET : DURESS_CLEAR;
    return this.ctx.run(async (tx) => {
      const id = await identify(tx.store, a.phone);
      const base = { channel: a.channel, phone: id.phone, clientId: id.client?.id ?? null, action: purpose, auth: 'session', detail: a.ref ?? null } as const;
      const lang = id.client?.lang ?? 'ru';
      if (!id.ok) {
        await tx.journal({ ...base, outcome: 'refused', reason: id.reason });
        return { kind: 'refused', reason: id.reason, lang };
      }
      const ch = await createChallenge(tx, { number: id.number, client: id.client, purpose, object: null, channel: a.channel, operator: null });
      if (!ch.ok) {
        await tx.journal({ ...base, outcome: 'refused', reason: 'rate-limited' });
        return { kind: 'refused', reason: 'rate-limited', lang, retryAfterMs: ch.retryAfterMs, limit: ch.why };
      }
      const rec = await tx.journal({ ...base, outcome: 'challenged', challengeId: ch.challengeId });
      return { kind: 'challenge', challengeId: ch.challengeId, expiresAt: ch.expiresAt, lang, seq: rec.seq };
    });
  }

  /**
   * The one-time code comes back with the new duress code (for a set): the duress code is
   * checked first (bad input changes nothing, the one-time code stays usable), then the
   * one-time code as any other (wrong ones count), then the change is made.
   */
  async confirm(a: { channel: 'app' | 'chat'; phone: string; challengeId: string; code: string; duress?: unknown; ref?: string }): Promise<DuressConfirmResult> {
    const duress = a.duress === undefined || a.duress === null ? null : checkDuressCode(a.duress);
    return this.ctx.run(async (tx) => {
      const ch = await tx.store.getChallenge(a.challengeId);
      if (ch && isDuressPurpose(ch.purpose) && ch.state === 'pending') {
        if (ch.purpose === DURESS_SET && duress === null) throw new AppError('BAD_INPUT', 'give the new duress code (4 to 8 digits) with the confirmation');
        if (ch.purpose === DURESS_CLEAR && duress !== null) throw new AppError('BAD_INPUT', 'this confirmation clears the duress code: send no new code with it');
      }
      const r = await confirmIn(tx, {
        channel: a.channel, phone: a.phone, code: a.code, challengeId: a.challengeId, duressChange: true, ...(a.ref ? { ref: a.ref } : {}),
      });
      if (r.kind === 'refused') return { kind: 'refused', reason: r.reason, ...(r.attemptsLeft !== undefined ? { attemptsLeft: r.attemptsLeft } : {}) };
      await this.store(tx, r.clientId, r.purpose === DURESS_SET ? duress : null, `client:${a.channel}`);
      return { kind: 'done', change: r.purpose === DURESS_SET ? 'set' : 'cleared', seq: r.seq };
    });
  }

  private async store(tx: Tx, clientId: number, code: string | null, by: string): Promise<void> {
    await tx.store.setDuress(clientId, code === null ? null : duressHash(tx.ctx.keys.duress, clientId, code), tx.nowIso(), by);
  }
}
