import type { Statement } from 'better-sqlite3';
import type { ClaimedSms, MessageOutcome, Outbox, OutboxCounts, PartAccepted, ReceiptApplied, ReceiptUpdate } from '../core/ports.ts';
import type { Db } from './db.ts';
import { lockFor } from './sqlite-lock.ts';
import type { SqliteLock } from './sqlite-lock.ts';
import { Statements } from './statements.ts';

/** A claimed row as the claim returns it (see `claim`). */
type ClaimRow = [number, number, string, string, string | null, Buffer | null, number, string | null, number, number, number];

/**
 * The outbox on SQLite, as the SMS dispatcher sees it. State changes are applied in batches, one
 * transaction per batch, so a busy SMSC link costs few fsyncs. Each method takes its turn on
 * the file's lock, then runs synchronously.
 */
export class OutboxStore implements Outbox {
  private readonly db: Db;
  private readonly stmts: Statements;
  private readonly lock: SqliteLock;

  /** `lock` is the file's (shared with the store on the same connection). */
  constructor(db: Db, lock: SqliteLock = lockFor(db)) {
    this.db = db;
    this.stmts = new Statements(db);
    this.lock = lock;
  }

  private st(sql: string): Statement {
    return this.stmts.get(sql);
  }

  /** At an instance's start: its own claims and every claim whose lease ran out go back to the queue, as possible duplicates. */
  recoverSending(at: string, holder: string): Promise<number> {
    return this.lock.run(() => {
      return this.st(`UPDATE outbox SET state = 'queued', duplicate_risk = 1, updated_at = ?
        WHERE state = 'sending' AND (claimed_by = ? OR lease_until IS NULL OR lease_until <= ?)`).run(at, holder, at).changes;
    });
  }

  /**
   * Takes back claims whose lease ran out, expires what is past its lifetime (codes are never
   * sent late), then claims up to `limit` due messages, most urgent first, marking them
   * 'sending' under `holder`'s lease.
   */
  claim(now: string, limit: number, holder: string, leaseUntil: string): Promise<{ claimed: ClaimedSms[]; expired: number; takenOver: number }> {
    return this.lock.run(() => {
      return this.db.transaction(() => {
        const takenOver = this.st(`UPDATE outbox SET state = 'queued', duplicate_risk = 1, updated_at = ?
          WHERE state = 'sending' AND (lease_until IS NULL OR lease_until <= ?)`).run(now, now).changes;
        const expired = this.st(`UPDATE outbox SET state = 'expired', body = CASE WHEN secret = 1 THEN NULL ELSE body END,
            body_enc = NULL, done_at = ?, updated_at = ?
          WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= ?`).run(now, now, now).changes;
        // one statement claims the batch; RETURNING gives no order, so sort here. Rows come as
        // arrays (no object per row): id, priority, kind, phone, body, body_enc, secret,
        // expires_at, attempts, concat_ref, duplicate_risk
        this.claimSql ??= this.db.prepare(`UPDATE outbox SET state = 'sending', attempts = attempts + 1,
            concat_ref = COALESCE(concat_ref, id % 255 + 1), claimed_by = ?, lease_until = ?, updated_at = ?
          WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND not_before <= ? ORDER BY priority, id LIMIT ?)
          RETURNING id, priority, kind, phone, body, body_enc, secret, expires_at, attempts, concat_ref, duplicate_risk`).raw(true);
        const rows = this.claimSql.all(holder, leaseUntil, now, now, limit) as ClaimRow[];
        if (rows.length === 0) return { claimed: [], expired, takenOver };
        rows.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
        const acceptedOf = this.st('SELECT seq FROM outbox_parts WHERE outbox_id = ? ORDER BY seq');
        const claimed = rows.map((r): ClaimedSms => {
          const [id, priority, kind, phone, body, bodyEnc, secret, expiresAt, attempts, concatRef, duplicateRisk] = r;
          const accepted = attempts > 1 ? (acceptedOf.all(id) as Array<{ seq: number }>).map((p) => p.seq) : [];
          return {
            id, priority, kind, phone, body, bodyEnc, secret: secret === 1, expiresAt, attempts, concatRef,
            duplicateRisk: duplicateRisk === 1, acceptedParts: accepted,
          };
        });
        return { claimed, expired, takenOver };
      }).immediate();
    });
  }

  /** Extends the lease of the messages among `ids` that `holder` still holds; returns their ids. */
  renewClaims(ids: number[], holder: string, leaseUntil: string): Promise<number[]> {
    return this.lock.run(() => {
      if (ids.length === 0) return [];
      return this.db.transaction(() => {
        const renew = this.st(`UPDATE outbox SET lease_until = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?`);
        return ids.filter((id) => renew.run(leaseUntil, id, holder).changes === 1);
      }).immediate();
    });
  }

  /** Applies accepted parts, and the outcomes of the messages `holder` still holds, in one transaction. */
  record(parts: PartAccepted[], outcomes: MessageOutcome[], at: string, holder: string): Promise<number[]> {
    return this.lock.run(() => {
      if (parts.length === 0 && outcomes.length === 0) return [];
      return this.db.transaction(() => {
        const ins = this.st(`INSERT OR IGNORE INTO outbox_parts (outbox_id, seq, total, message_id, id_key, state, submitted_at)
          VALUES (?, ?, ?, ?, ?, 'submitted', ?)`);
        for (const p of parts) ins.run(p.outboxId, p.seq, p.total, p.messageId, p.key, at);
        // an outcome is applied only while the message is still this holder's claim
        const ignored: number[] = [];
        const st = this.outcomeStatements();
        for (const o of outcomes) {
          let changes = 0;
          switch (o.state) {
            case 'submitted': {
              const erase = o.eraseBody ? 1 : 0;
              changes = st.submitted.run(o.total, at, at, erase, erase, o.outboxId, holder).changes;
              break;
            }
            case 'retry':
              changes = st.retry.run(o.notBefore, o.error, o.duplicateRisk ? 1 : 0, at, o.outboxId, holder).changes;
              break;
            case 'failed':
              changes = st.failed.run(o.error, o.duplicateRisk ? 1 : 0, at, at, o.eraseBody ? 1 : 0, o.outboxId, holder).changes;
              break;
            case 'expired':
              changes = st.expired.run(at, at, o.outboxId, holder).changes;
              break;
          }
          if (changes === 0) ignored.push(o.outboxId);
        }
        return ignored;
      }).immediate();
    });
  }

  private claimSql: Statement | null = null;
  private outcomeSql: { submitted: Statement; retry: Statement; failed: Statement; expired: Statement } | null = null;

  /** The statements that write an outcome, prepared once (a batch runs them a thousand times). */
  private outcomeStatements(): { submitted: Statement; retry: Statement; failed: Statement; expired: Statement } {
    if (this.outcomeSql) return this.outcomeSql;
    const held = "state = 'sending' AND claimed_by = ?";
    this.outcomeSql = {
      submitted: this.st(`UPDATE outbox SET state = 'submitted', parts_total = ?, submitted_at = ?, updated_at = ?,
          body_enc = CASE WHEN ? THEN NULL ELSE body_enc END, body = CASE WHEN ? AND secret = 1 THEN NULL ELSE body END,
          error = NULL
        WHERE id = ? AND ${held}`),
      retry: this.st(`UPDATE outbox SET state = 'queued', not_before = ?, error = ?, duplicate_risk = MAX(duplicate_risk, ?), updated_at = ?
        WHERE id = ? AND ${held}`),
      failed: this.st(`UPDATE outbox SET state = 'failed', error = ?, duplicate_risk = MAX(duplicate_risk, ?), done_at = ?, updated_at = ?,
          body_enc = CASE WHEN ? THEN NULL ELSE body_enc END
        WHERE id = ? AND ${held}`),
      expired: this.st(`UPDATE outbox SET state = 'expired', body_enc = NULL, body = CASE WHEN secret = 1 THEN NULL ELSE body END,
          done_at = ?, updated_at = ? WHERE id = ? AND ${held}`),
    };
    return this.outcomeSql;
  }

  /**
   * Delivery receipts in one transaction: each finds its part by a key (newest part first) and
   * settles it; when every part of the message is settled the message takes its final state.
   */
  applyReceipts(receipts: ReceiptUpdate[], at: string): Promise<Array<ReceiptApplied | null>> {
    return this.lock.run(() => {
      if (receipts.length === 0) return [];
      return this.db.transaction(() => receipts.map((r) => this.applyOne(r, at))).immediate();
    });
  }

  private applyOne(r: ReceiptUpdate, at: string): ReceiptApplied | null {
    const find = (list: string[]): { id: number; outbox_id: number } | undefined => {
      if (list.length === 0) return undefined;
      // one or two keys: two statements, each prepared once
      const sql = `SELECT id, outbox_id FROM outbox_parts WHERE id_key IN (${list.map(() => '?').join(',')}) ORDER BY id DESC LIMIT 1`;
      return this.st(sql).get(...list) as { id: number; outbox_id: number } | undefined;
    };
    const part = find(r.keys.exact) ?? find(r.keys.cross);
    if (!part) return null;
    const final = r.state !== 'accepted' && r.state !== 'unknown';
    this.st('UPDATE outbox_parts SET state = ?, error = ?, done_at = ? WHERE id = ?').run(r.state, r.error, final ? at : null, part.id);
    const msg = this.st('SELECT state, parts_total FROM outbox WHERE id = ?').get(part.outbox_id) as { state: string; parts_total: number | null };
    if (msg.state !== 'submitted' || msg.parts_total === null) return { outboxId: part.outbox_id, messageState: null };
    const parts = this.st('SELECT state FROM outbox_parts WHERE outbox_id = ?').all(part.outbox_id) as Array<{ state: string }>;
    if (parts.length < msg.parts_total) return { outboxId: part.outbox_id, messageState: null };
    const states = parts.map((p) => p.state);
    if (states.some((s) => s === 'submitted' || s === 'accepted' || s === 'unknown')) return { outboxId: part.outbox_id, messageState: null };
    const messageState = states.every((s) => s === 'delivered') ? 'delivered'
      : states.includes('expired') ? 'expired' : 'undeliverable';
    const err = messageState === 'delivered' ? null : r.error;
    this.st('UPDATE outbox SET state = ?, error = COALESCE(?, error), done_at = ?, updated_at = ? WHERE id = ?')
      .run(messageState, err, at, at, part.outbox_id);
    return { outboxId: part.outbox_id, messageState };
  }

  counts(): Promise<OutboxCounts> {
    return this.lock.run(() => {
      const rows = this.st('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as Array<{ state: string; n: number }>;
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    });
  }

  parts(outboxId: number): Promise<Array<{ seq: number; total: number; messageId: string; state: string; error: string | null }>> {
    return this.lock.run(() => {
      return (this.st('SELECT seq, total, message_id, state, error FROM outbox_parts WHERE outbox_id = ? ORDER BY seq').all(outboxId) as Array<Record<string, unknown>>)
        .map((r) => ({ seq: r.seq as number, total: r.total as number, messageId: r.message_id as string, state: r.state as string, error: (r.error as string | null) ?? null }));
    });
  }

  /** When the next queued message becomes due (for the dispatcher's timer), or null. */
  nextDue(): Promise<string | null> {
    return this.lock.run(() => {
      const r = this.st("SELECT not_before AS t FROM outbox WHERE state = 'queued' ORDER BY not_before LIMIT 1").get() as { t: string } | undefined;
      return r?.t ?? null;
    });
  }
}
