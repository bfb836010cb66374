import type pg from 'pg';
import type { ClaimedSms, MessageOutcome, Outbox, OutboxCounts, PartAccepted, ReceiptApplied, ReceiptUpdate } from '../core/ports.ts';
import type { PgDatabase } from './pg-db.ts';

type Row = Record<string, unknown>;

/**
 * The outbox on PostgreSQL, as the SMS dispatcher sees it. Each method is one transaction at
 * READ COMMITTED that locks the rows it changes (not the database's write lock): a claim takes
 * due messages with FOR UPDATE SKIP LOCKED, so claimers in several processes never take the
 * same message and never wait for each other; a receipt locks its message before it looks at
 * the message's parts, so receipts for two parts settle the message once.
 */
export class PgOutbox implements Outbox {
  constructor(private readonly db: PgDatabase) {}

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.db.run(() => this.db.rowLockedTransaction(fn));
  }

  /** At an instance's start: its own claims and every claim whose lease ran out go back to the queue, as possible duplicates. */
  recoverSending(at: string, holder: string): Promise<number> {
    return this.tx(async (c) => (await c.query(`UPDATE outbox SET state = 'queued', duplicate_risk = 1, updated_at = $1
      WHERE id IN (SELECT id FROM outbox WHERE state = 'sending' AND (claimed_by = $2 OR lease_until IS NULL OR lease_until <= $1)
        FOR UPDATE SKIP LOCKED)`, [at, holder])).rowCount ?? 0);
  }

  /**
   * Takes back claims whose lease ran out, expires what is past its lifetime (codes are never
   * sent late), then claims up to `limit` due messages, most urgent first, marking them
   * 'sending' under `holder`'s lease. Rows another instance holds locked are skipped, never
   * waited for, in every step.
   */
  claim(now: string, limit: number, holder: string, leaseUntil: string): Promise<{ claimed: ClaimedSms[]; expired: number; takenOver: number }> {
    return this.tx(async (c) => {
      const takenOver = (await c.query(`UPDATE outbox SET state = 'queued', duplicate_risk = 1, updated_at = $1
        WHERE id IN (SELECT id FROM outbox WHERE state = 'sending' AND (lease_until IS NULL OR lease_until <= $1) FOR UPDATE SKIP LOCKED)`,
      [now])).rowCount ?? 0;
      const expired = (await c.query(`UPDATE outbox SET state = 'expired', body = CASE WHEN secret = 1 THEN NULL ELSE body END,
          body_enc = NULL, done_at = $1, updated_at = $1
        WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= $1 FOR UPDATE SKIP LOCKED)`,
      [now])).rowCount ?? 0;
      // RETURNING gives no order: sorted here
      const rows = (await c.query<Row>(`UPDATE outbox o SET state = 'sending', attempts = o.attempts + 1,
          concat_ref = COALESCE(o.concat_ref, o.id % 255 + 1), claimed_by = $3, lease_until = $4, updated_at = $1
        FROM (SELECT id FROM outbox WHERE state = 'queued' AND not_before <= $1 ORDER BY priority, id LIMIT $2 FOR UPDATE SKIP LOCKED) due
        WHERE o.id = due.id
        RETURNING o.id, o.priority, o.kind, o.phone, o.body, o.body_enc, o.secret, o.expires_at, o.attempts, o.concat_ref, o.duplicate_risk`,
      [now, limit, holder, leaseUntil])).rows;
      if (rows.length === 0) return { claimed: [], expired, takenOver };
      rows.sort((a, b) => (a.priority as number) - (b.priority as number) || (a.id as number) - (b.id as number));
      const again = rows.filter((r) => (r.attempts as number) > 1).map((r) => r.id as number);
      const accepted = new Map<number, number[]>();
      if (again.length > 0) {
        const parts = await c.query<{ outbox_id: number; seq: number }>('SELECT outbox_id, seq FROM outbox_parts WHERE outbox_id = ANY($1::bigint[]) ORDER BY outbox_id, seq', [again]);
        for (const p of parts.rows) accepted.set(p.outbox_id, [...(accepted.get(p.outbox_id) ?? []), p.seq]);
      }
      const claimed = rows.map((r): ClaimedSms => ({
        id: r.id as number, priority: r.priority as number, kind: r.kind as string, phone: r.phone as string,
        body: (r.body as string | null) ?? null, bodyEnc: (r.body_enc as Buffer | null) ?? null, secret: r.secret === 1,
        expiresAt: (r.expires_at as string | null) ?? null, attempts: r.attempts as number, concatRef: r.concat_ref as number,
        duplicateRisk: r.duplicate_risk === 1, acceptedParts: accepted.get(r.id as number) ?? [],
      }));
      return { claimed, expired, takenOver };
    });
  }

  /** Extends the lease of the messages among `ids` that `holder` still holds; returns their ids. */
  async renewClaims(ids: number[], holder: string, leaseUntil: string): Promise<number[]> {
    if (ids.length === 0) return [];
    const held = await this.tx(async (c) => (await c.query<{ id: number }>(`UPDATE outbox SET lease_until = $1
      WHERE id = ANY($2::bigint[]) AND state = 'sending' AND claimed_by = $3 RETURNING id`, [leaseUntil, ids, holder])).rows.map((r) => Number(r.id)));
    const set = new Set(held);
    return ids.filter((id) => set.has(id));
  }

  /**
   * Applies accepted parts, and the outcomes of the messages `holder` still holds, in one
   * transaction; returns the ids whose outcome was not applied. Two statements whatever the
   * batch's size (a statement per part or outcome would cost a round trip each): the parts
   * with their keys, then the outcomes.
   */
  async record(parts: PartAccepted[], outcomes: MessageOutcome[], at: string, holder: string): Promise<number[]> {
    if (parts.length === 0 && outcomes.length === 0) return [];
    // a part given twice is kept once, with the keys it was first given with
    const seen = new Set<string>();
    const newParts = parts.filter((p) => {
      const k = `${p.outboxId}:${p.seq}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    // an outcome given twice for one message: the first applies, the others find it no longer 'sending'
    const once = new Map<number, MessageOutcome>();
    for (const o of outcomes) if (!once.has(o.outboxId)) once.set(o.outboxId, o);
    const list = [...once.values()];
    /** The ids whose outcome was not applied, in the order given. */
    const notApplied = (applied: Set<number>): number[] => outcomes.filter((o) => once.get(o.outboxId) !== o || !applied.has(o.outboxId)).map((o) => o.outboxId);
    return this.tx(async (c) => {
      if (newParts.length > 0) {
        await c.query(`INSERT INTO outbox_parts (outbox_id, seq, total, message_id, id_key, state, submitted_at)
            SELECT p.outbox_id, p.seq, p.total, p.message_id, p.id_key, 'submitted', $6
              FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[]) AS p(outbox_id, seq, total, message_id, id_key)
            ON CONFLICT (outbox_id, seq) DO NOTHING`,
        [newParts.map((p) => p.outboxId), newParts.map((p) => p.seq), newParts.map((p) => p.total), newParts.map((p) => p.messageId),
          newParts.map((p) => p.key), at]);
      }
      if (list.length === 0) return [];
      // each outcome as in the SQLite engine: 'submitted', 'retry' (queued again), 'failed', 'expired';
      // applied only while the message is still this holder's claim
      const applied = (await c.query<{ id: number }>(`UPDATE outbox o SET
          state = CASE WHEN v.state = 'retry' THEN 'queued' ELSE v.state END,
          parts_total = CASE WHEN v.state = 'submitted' THEN v.total ELSE o.parts_total END,
          submitted_at = CASE WHEN v.state = 'submitted' THEN $8 ELSE o.submitted_at END,
          not_before = CASE WHEN v.state = 'retry' THEN v.not_before ELSE o.not_before END,
          error = CASE WHEN v.state = 'submitted' THEN NULL WHEN v.state IN ('retry', 'failed') THEN v.error ELSE o.error END,
          duplicate_risk = CASE WHEN v.state IN ('retry', 'failed') THEN GREATEST(o.duplicate_risk, v.duplicate_risk) ELSE o.duplicate_risk END,
          done_at = CASE WHEN v.state IN ('failed', 'expired') THEN $8 ELSE o.done_at END,
          updated_at = $8,
          body_enc = CASE WHEN v.state = 'expired' OR (v.state IN ('submitted', 'failed') AND v.erase) THEN NULL ELSE o.body_enc END,
          body = CASE WHEN o.secret = 1 AND (v.state = 'expired' OR (v.state = 'submitted' AND v.erase)) THEN NULL ELSE o.body END
        FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[], $7::boolean[])
          AS v(id, state, total, not_before, error, duplicate_risk, erase)
        WHERE o.id = v.id AND o.state = 'sending' AND o.claimed_by = $9
        RETURNING o.id`, [
        list.map((o) => o.outboxId),
        list.map((o) => o.state),
        list.map((o) => (o.state === 'submitted' ? o.total : null)),
        list.map((o) => (o.state === 'retry' ? o.notBefore : null)),
        list.map((o) => (o.state === 'retry' || o.state === 'failed' ? o.error : null)),
        list.map((o) => ((o.state === 'retry' || o.state === 'failed') && o.duplicateRisk ? 1 : 0)),
        list.map((o) => (o.state === 'submitted' || o.state === 'failed' ? o.eraseBody : false)),
        at, holder,
      ])).rows;
      return notApplied(new Set(applied.map((r) => Number(r.id))));
    });
  }

  /**
   * Delivery receipts in one transaction: each finds its part by a key (newest part first) and
   * settles it; when every part of the message is settled the message takes its final state.
   */
  applyReceipts(receipts: ReceiptUpdate[], at: string): Promise<Array<ReceiptApplied | null>> {
    if (receipts.length === 0) return Promise.resolve([]);
    return this.tx(async (c) => {
      const out: Array<ReceiptApplied | null> = [];
      for (const r of receipts) out.push(await this.applyOne(c, r, at));
      return out;
    });
  }

  private async applyOne(c: pg.PoolClient, r: ReceiptUpdate, at: string): Promise<ReceiptApplied | null> {
    const find = async (list: string[]): Promise<{ id: number; outbox_id: number } | undefined> => {
      if (list.length === 0) return undefined;
      return (await c.query<{ id: number; outbox_id: number }>(`SELECT id, outbox_id FROM outbox_parts
        WHERE id_key = ANY($1::text[]) ORDER BY id DESC LIMIT 1`, [list])).rows[0];
    };
    const part = (await find(r.keys.exact)) ?? (await find(r.keys.cross));
    if (!part) return null;
    // the message first: a receipt for another of its parts waits here, then sees this one settled
    const msg = (await c.query<{ state: string; parts_total: number | null }>('SELECT state, parts_total FROM outbox WHERE id = $1 FOR UPDATE', [part.outbox_id])).rows[0]!;
    const final = r.state !== 'accepted' && r.state !== 'unknown';
    await c.query('UPDATE outbox_parts SET state = $1, error = $2, done_at = $3 WHERE id = $4', [r.state, r.error, final ? at : null, part.id]);
    if (msg.state !== 'submitted' || msg.parts_total === null) return { outboxId: part.outbox_id, messageState: null };
    const states = (await c.query<{ state: string }>('SELECT state FROM outbox_parts WHERE outbox_id = $1', [part.outbox_id])).rows.map((p) => p.state);
    if (states.length < msg.parts_total) return { outboxId: part.outbox_id, messageState: null };
    if (states.some((s) => s === 'submitted' || s === 'accepted' || s === 'unknown')) return { outboxId: part.outbox_id, messageState: null };
    const messageState = states.every((s) => s === 'delivered') ? 'delivered'
      : states.includes('expired') ? 'expired' : 'undeliverable';
    const err = messageState === 'delivered' ? null : r.error;
    await c.query('UPDATE outbox SET state = $1, error = COALESCE($2, error), done_at = $3, updated_at = $3 WHERE id = $4',
      [messageState, err, at, part.outbox_id]);
    return { outboxId: part.outbox_id, messageState };
  }


  counts(): Promise<OutboxCounts> {
    return this.db.run(async () => {
      const rows = (await this.db.pool.query<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state')).rows;
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    });
  }

  parts(outboxId: number): Promise<Array<{ seq: number; total: number; messageId: string; state: string; error: string | null }>> {
    return this.db.run(async () => (await this.db.pool.query<Row>('SELECT seq, total, message_id, state, error FROM outbox_parts WHERE outbox_id = $1 ORDER BY seq', [outboxId])).rows
      .map((r) => ({ seq: r.seq as number, total: r.total as number, messageId: r.message_id as string, state: r.state as string, error: (r.error as string | null) ?? null })));
  }

  /** When the next queued message becomes due (for the dispatcher's timer), or null. */
  nextDue(): Promise<string | null> {
    return this.db.run(async () => {
      const r = (await this.db.pool.query<{ t: string }>("SELECT not_before AS t FROM outbox WHERE state = 'queued' ORDER BY not_before LIMIT 1")).rows[0];
      return r?.t ?? null;
    });
  }
}
