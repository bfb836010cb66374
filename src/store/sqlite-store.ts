import type { Statement } from 'better-sqlite3';
import { DuplicateKeyError } from '../core/ports.ts';
import type {
  AlertRow, CallFilter, CallInsert, CallRow, CallUpdate, ChallengeRow, DuressRow, JournalFilter, MonitoringEventInsert, ServiceRow, MonitoringEventRow,
  OperatorRow, OutboxInsert, OutboxRow, RateLimit, SessionRow, Store, StoreTx, HoldInsert, HoldRow, HoldState, PanelRow,
} from '../core/ports.ts';
import { GENESIS_HASH, recordHash } from '../domain/journal.ts';
import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import type { CodeClass } from '../domain/otp.ts';
import type {
  ClientView, Lang, NumberState, NumberView, ObjectStatus, ObjectView,
} from '../domain/types.ts';
import type { Db } from './db.ts';
import { lockFor, TxStatements } from './sqlite-lock.ts';
import type { SqliteLock } from './sqlite-lock.ts';
import { Statements } from './statements.ts';
import {
  alertFrom, appendedActions, callFrom, callUpdateValues, challengeFrom, clientFrom, DURESS_HIDDEN_SQL, duressFrom, eventFrom, holdFrom, journalFrom, objectFrom, operatorFrom, outboxFrom, PANEL_SELECT, panelFrom, schedulesFrom,
} from './rows.ts';
import type { Row } from './rows.ts';
import type { ScheduleRow } from '../core/ports.ts';
import type { DayRule, ScheduleException } from '../domain/schedule.ts';


const DUPLICATE_CODES = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

/** The longest rate-limit key the store takes (see `StoreTx.rateHit`). */
const RATE_KEY_MAX = 200;

/**
 * Runs one write whose unique keys callers rely on; SQLite's unique or primary key violation
 * becomes a `DuplicateKeyError` whose key names the constraint and its columns as SQLite
 * reports them (e.g. `ledger.ref`). Only that statement is undone: an enclosing
 * transaction goes on.
 */
function uniqueWrite<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && DUPLICATE_CODES.has(code)) {
      const target = /constraint failed: (.+)$/.exec((e as Error).message)?.[1] ?? 'key';
      throw new DuplicateKeyError(target);
    }
    throw e;
  }
}

/** A write transaction waiting for its group. */
interface GroupMember {
  fn: (tx: StoreTx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Transactions in one group commit, at most (a bound on how long the first of them waits for its commit). */
const MAX_GROUP = 64;

/**
 * The store on one better-sqlite3 connection. Transactions of this process take turns (a
 * first-in, first-out lock shared by every connection to the file); each gets its own
 * `SqliteTx` over the connection's prepared statements. As a `SqliteTx` resolves at once, a
 * transaction whose work awaits only its `tx` runs from BEGIN to COMMIT within one turn of
 * the event loop (an online backup's steps never see it open). A transaction started from
 * inside another's work would wait for that one to end, which never comes: the lock refuses
 * it at once instead (transactions do not nest).
 */
export class SqliteStore implements Store {
  readonly db: Db;
  private readonly stmts: Statements;
  private readonly txStmts: TxStatements;
  private readonly lock: SqliteLock;

  /** A group member's savepoint (the group's BEGIN, COMMIT and ROLLBACK are `txStmts`'). */
  private readonly member: { savepoint: Statement; release: Statement; rollbackTo: Statement };

  constructor(db: Db, lock: SqliteLock = lockFor(db)) {
    this.db = db;
    this.stmts = new Statements(db);
    this.txStmts = new TxStatements(db);
    this.lock = lock;
    this.member = { savepoint: db.prepare('SAVEPOINT member'), release: db.prepare('RELEASE member'), rollbackTo: db.prepare('ROLLBACK TO member') };
  }

  /**
   * A write transaction (see `Store.transaction`), committed with the others that asked
   * meanwhile: the transactions that queue while one group runs form the next group, which
   * runs them one after the other inside one BEGIN IMMEDIATE … COMMIT, each in a savepoint of
   * its own. One that fails is rolled back to its savepoint alone; every one is answered once
   * the group's commit is durable. Alone, a transaction is a group of one: it waits for no one.
   * Many at once cost one commit (one fsync) per group instead of one each.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (this.lock.inside()) return Promise.reject(new Error('a transaction was started inside another transaction of the same database'));
    return new Promise<T>((resolve, reject) => {
      this.writers.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.scheduleGroup();
    });
  }

  /** Transactions waiting for the next group. */
  private writers: GroupMember[] = [];
  private groupQueued = false;
  /** Groups committed and the transactions in them, since this store opened. */
  readonly commits = { groups: 0, transactions: 0 };

  private scheduleGroup(): void {
    if (this.groupQueued) return;
    this.groupQueued = true;
    // the group takes its place in the lock's queue after this turn of the event loop: every
    // transaction asked for in the same turn (the events of one read from a socket, the
    // requests of one burst) joins it. What is left after a group (more than one group's
    // worth, or members of a group SQLite rolled back) gets a group of its own.
    setImmediate(() => {
      void this.lock.runQueued(() => this.runGroup()).catch(() => undefined).finally(() => {
        if (this.writers.length > 0) this.scheduleGroup();
      });
    });
  }

  /** Runs what queued until now as one transaction; what queues meanwhile waits for the next group. */
  private async runGroup(): Promise<void> {
    this.groupQueued = false;
    const members = this.writers.splice(0, MAX_GROUP);
    if (members.length === 0) return;
    const tx0 = this.txStmts;
    const st = this.member;
    try {
      tx0.beginImmediate.run();
    } catch (e) {
      for (const m of members) m.reject(e);
      return;
    }
    const outcomes: Array<{ m: GroupMember; ok: true; value: unknown } | { m: GroupMember; ok: false; error: unknown }> = [];
    for (let i = 0; i < members.length; i++) {
      const m = members[i] as GroupMember;
      const tx = new SqliteTx(this.db, this.stmts, false);
      st.savepoint.run();
      try {
        const value = await m.fn(tx);
        st.release.run();
        outcomes.push({ m, ok: true, value });
      } catch (e) {
        if (!this.db.inTransaction) {
          // SQLite rolled the whole transaction back (a full disk, an I/O error): nothing of this
          // group stands; the members not yet run go to the next group
          for (const o of outcomes) o.m.reject(o.ok ? e : o.error);
          m.reject(e);
          this.writers.unshift(...members.slice(i + 1));
          return;
        }
        st.rollbackTo.run();
        st.release.run();
        outcomes.push({ m, ok: false, error: e });
      } finally {
        tx.end();
      }
    }
    try {
      if (outcomes.some((o) => o.ok)) tx0.commit.run();
      else tx0.rollback.run();
    } catch (e) {
      if (this.db.inTransaction) tx0.rollback.run();
      for (const o of outcomes) o.m.reject(o.ok ? e : o.error);
      return;
    }
    this.commits.groups++;
    this.commits.transactions += members.length;
    for (const o of outcomes) {
      if (o.ok) o.m.resolve(o.value);
      else o.m.reject(o.error);
    }
  }

  /** A deferred transaction whose `tx` refuses every statement that writes; see `Store.read`. */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const tx = new SqliteTx(this.db, this.stmts, true);
      try {
        return await this.txStmts.read(() => fn(tx));
      } finally {
        tx.end();
      }
    });
  }


}

/**
 * One transaction's view of the repositories: the synchronous statements of better-sqlite3
 * behind promises. Usable only while its transaction is open.
 */
export class SqliteTx implements StoreTx {
  private ended = false;

  /** `readOnly`: every statement that would change the database rejects (a read's `tx`). */
  constructor(private readonly db: Db, private readonly stmts: Statements, private readonly readOnly = false) {}

  /** Called when the transaction ended: any later use is a bug and rejects. */
  end(): void {
    this.ended = true;
  }

  private live(): void {
    if (this.ended) throw new Error('store transaction used after it ended');
  }

  private st(sql: string): Statement {
    this.live();
    const s = this.stmts.get(sql);
    if (this.readOnly && !s.readonly) throw new Error('a write in a read-only transaction');
    return s;
  }

  async insertClient(c: { name: string; lang: Lang; balance: number; at: string }): Promise<number> {
    const r = this.st('INSERT INTO clients (name, lang, balance, created_at) VALUES (?, ?, ?, ?)')
      .run(c.name, c.lang, c.balance, c.at);
    return Number(r.lastInsertRowid);
  }

  async getClient(id: number): Promise<ClientView | undefined> {
    const r = this.st('SELECT * FROM clients WHERE id = ?').get(id) as Row | undefined;
    return r && clientFrom(r);
  }

  async listClients(): Promise<ClientView[]> {
    return (this.st('SELECT * FROM clients ORDER BY id').all() as Row[]).map(clientFrom);
  }

  async setClientLang(id: number, lang: Lang): Promise<void> {
    this.st('UPDATE clients SET lang = ?, lang_chosen = 1 WHERE id = ?').run(lang, id);
  }

  async addBalance(id: number, delta: number): Promise<void> {
    this.st('UPDATE clients SET balance = balance + ? WHERE id = ?').run(delta, id);
  }

  async setSuspended(id: number, at: string | null): Promise<void> {
    this.st('UPDATE clients SET suspended_at = ? WHERE id = ?').run(at, id);
  }

  async insertObject(o: { clientId: number; code: string; address: string; at: string; calloutEnabled: boolean }): Promise<number> {
    return uniqueWrite(() => {
      const r = this.st(`INSERT INTO objects (client_id, code, address, status, status_since, callout_enabled, created_at)
        VALUES (?, ?, ?, 'disarmed', ?, ?, ?)`).run(o.clientId, o.code, o.address, o.at, o.calloutEnabled ? 1 : 0, o.at);
      return Number(r.lastInsertRowid);
    });
  }

  async getObjectByCode(code: string): Promise<ObjectView | undefined> {
    const r = this.st('SELECT * FROM objects WHERE code = ?').get(code) as Row | undefined;
    return r && objectFrom(r);
  }

  async getObject(id: number): Promise<ObjectView | undefined> {
    const r = this.st('SELECT * FROM objects WHERE id = ?').get(id) as Row | undefined;
    return r && objectFrom(r);
  }

  async listObjects(clientId?: number): Promise<ObjectView[]> {
    const rows = clientId === undefined
      ? this.st('SELECT * FROM objects ORDER BY code').all()
      : this.st('SELECT * FROM objects WHERE client_id = ? ORDER BY code').all(clientId);
    return (rows as Row[]).map(objectFrom);
  }

  async setObjectStatus(id: number, status: ObjectStatus, since: string): Promise<void> {
    this.st('UPDATE objects SET status = ?, status_since = ? WHERE id = ?').run(status, since, id);
  }

  async insertNumber(n: { clientId: number; phone: string; state: NumberState; allObjects: boolean; objectIds: number[]; at: string }): Promise<number> {
    return uniqueWrite(() => {
      const pos = this.st('SELECT COALESCE(MAX(position), 0) + 1 AS p FROM numbers WHERE client_id = ?').get(n.clientId) as { p: number };
      const r = this.st(`INSERT INTO numbers (client_id, phone, state, all_objects, position, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`).run(n.clientId, n.phone, n.state, n.allObjects ? 1 : 0, pos.p, n.at, n.at);
      const id = Number(r.lastInsertRowid);
      const link = this.st('INSERT INTO number_objects (number_id, object_id) VALUES (?, ?)');
      for (const oid of n.objectIds) link.run(id, oid);
      return id;
    });
  }

  private numberFrom(r: Row): NumberView {
    const codes = (this.st(`SELECT o.code FROM number_objects no JOIN objects o ON o.id = no.object_id
      WHERE no.number_id = ? ORDER BY o.code`).all(r.id) as Array<{ code: string }>).map((x) => x.code);
    return {
      id: r.id as number,
      clientId: r.client_id as number,
      phone: r.phone as string,
      state: r.state as NumberState,
      allObjects: r.all_objects === 1,
      objectCodes: codes,
      blockReason: (r.block_reason as string | null) ?? null,
      createdAt: r.created_at as string,
      updatedAt: r.updated_at as string,
    };
  }

  async getLiveNumber(phone: string): Promise<NumberView | undefined> {
    const r = this.st("SELECT * FROM numbers WHERE phone = ? AND state <> 'removed'").get(phone) as Row | undefined;
    return r && this.numberFrom(r);
  }

  async getNumber(id: number): Promise<NumberView | undefined> {
    const r = this.st('SELECT * FROM numbers WHERE id = ?').get(id) as Row | undefined;
    return r && this.numberFrom(r);
  }

  async listNumbers(clientId: number): Promise<NumberView[]> {
    return (this.st('SELECT * FROM numbers WHERE client_id = ? ORDER BY position, id').all(clientId) as Row[])
      .map((r) => this.numberFrom(r));
  }

  async setNumberState(id: number, state: NumberState, at: string, blockReason: string | null = null): Promise<void> {
    this.st('UPDATE numbers SET state = ?, block_reason = ?, updated_at = ? WHERE id = ?').run(state, blockReason, at, id);
  }

  async objectsForNumber(n: NumberView): Promise<ObjectView[]> {
    if (n.allObjects) return this.listObjects(n.clientId);
    return (this.st(`SELECT o.* FROM number_objects no JOIN objects o ON o.id = no.object_id
      WHERE no.number_id = ? ORDER BY o.code`).all(n.id) as Row[]).map(objectFrom);
  }

  async insertChallenge(c: ChallengeRow): Promise<void> {
    return uniqueWrite(() => {
      this.st(`INSERT INTO challenges (id, purpose, number_id, object_id, channel, code_hash, created_at, expires_at, attempts, state, operator)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        c.id, c.purpose, c.numberId, c.objectId, c.channel, c.codeHash, c.createdAt, c.expiresAt, c.attempts, c.state, c.operator,
      );
    });
  }

  async getChallenge(id: string): Promise<ChallengeRow | undefined> {
    const r = this.st('SELECT * FROM challenges WHERE id = ?').get(id) as Row | undefined;
    return r && challengeFrom(r);
  }

  async pendingChallenges(numberId: number): Promise<ChallengeRow[]> {
    return (this.st(`SELECT * FROM challenges WHERE number_id = ? AND state = 'pending'
      ORDER BY created_at DESC, rowid DESC`).all(numberId) as Row[]).map(challengeFrom);
  }

  async updateChallenge(id: string, attempts: number, state: ChallengeRow['state']): Promise<void> {
    this.st('UPDATE challenges SET attempts = ?, state = ? WHERE id = ?').run(attempts, state, id);
  }

  async revokeChallenges(numberId: number): Promise<number> {
    return this.st("UPDATE challenges SET state = 'revoked' WHERE number_id = ? AND state = 'pending'").run(numberId).changes;
  }

  async recordOtpSend(phone: string, cls: CodeClass, at: string): Promise<void> {
    this.st('INSERT INTO otp_sends (phone, class, sent_at) VALUES (?, ?, ?)').run(phone, cls, at);
  }

  async otpSendsSince(phone: string, since: string): Promise<Array<{ cls: CodeClass; at: string }>> {
    return (this.st('SELECT class, sent_at FROM otp_sends WHERE phone = ? AND sent_at > ? ORDER BY sent_at').all(phone, since) as Array<{ class: CodeClass; sent_at: string }>)
      .map((r) => ({ cls: r.class, at: r.sent_at }));
  }

  async codeFloodSince(phone: string, cls: CodeClass, since: string): Promise<boolean> {
    return this.st('SELECT 1 FROM otp_floods WHERE phone = ? AND class = ? AND at > ? LIMIT 1').get(phone, cls, since) !== undefined;
  }

  async recordCodeFlood(phone: string, cls: CodeClass, at: string, alertId: number | null): Promise<void> {
    this.st('INSERT INTO otp_floods (phone, class, at, alert_id) VALUES (?, ?, ?, ?)').run(phone, cls, at, alertId);
  }

  async getSetting(key: string): Promise<string | undefined> {
    return (this.st('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  async setSetting(key: string, value: string, at: string, by: string | null): Promise<void> {
    this.st(`INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
      ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`).run(key, value, at, by);
  }

  async appendJournal(c: JournalContent): Promise<JournalRecord> {
    {
      const last = this.st('SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
      const seq = (last?.seq ?? 0) + 1;
      const prevHash = last?.hash ?? GENESIS_HASH;
      const hash = recordHash(seq, prevHash, c);
      this.st(`INSERT INTO journal (seq, at, channel, phone, client_id, object_code, action, auth, challenge_id, operator, outcome, reason, detail, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        seq, c.at, c.channel, c.phone, c.clientId, c.objectCode, c.action, c.auth, c.challengeId, c.operator,
        c.outcome, c.reason, c.detail, prevHash, hash,
      );
      return { ...c, seq, prevHash, hash };
    }
  }

  async journalPage(afterSeq: number, limit: number): Promise<JournalRecord[]> {
    // rows as arrays: one object per record instead of two (the chain check reads every record)
    const rows = this.st(`SELECT seq, at, channel, phone, client_id, object_code, action, auth, challenge_id, operator, outcome, reason,
      detail, prev_hash, hash FROM journal WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true).all(afterSeq, limit) as unknown[][];
    return rows.map((r) => ({
      seq: r[0] as number, at: r[1] as string, channel: r[2] as string, phone: r[3] as string | null, clientId: r[4] as number | null,
      objectCode: r[5] as string | null, action: r[6] as string, auth: r[7] as string, challengeId: r[8] as string | null,
      operator: r[9] as string | null, outcome: r[10] as string, reason: r[11] as string | null, detail: r[12] as string | null,
      prevHash: r[13] as string, hash: r[14] as string,
    }));
  }

  async searchJournal(f: JournalFilter): Promise<JournalRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown): void => {
      where.push(sql);
      args.push(v);
    };
    if (f.clientId !== undefined) add('client_id = ?', f.clientId);
    if (f.phone !== undefined) add('phone = ?', f.phone);
    if (f.objectCode !== undefined) add('object_code = ?', f.objectCode);
    if (f.action !== undefined) add('action = ?', f.action);
    if (f.channel !== undefined) add('channel = ?', f.channel);
    if (f.outcome !== undefined) add('outcome = ?', f.outcome);
    if (f.since !== undefined) add('at >= ?', f.since);
    if (f.until !== undefined) add('at < ?', f.until);
    if (f.beforeSeq !== undefined) add('seq < ?', f.beforeSeq);
    if (f.visibleTo) {
      const codes = f.visibleTo.objectCodes;
      where.push(codes.length ? `(phone = ? OR object_code IN (${codes.map(() => '?').join(', ')}))` : 'phone = ?');
      args.push(f.visibleTo.phone, ...codes);
      where.push(DURESS_HIDDEN_SQL);
    }
    const sql = `SELECT * FROM journal ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ?`;
    // the text varies with the filter: prepared for this search only, never cached
    this.live();
    return (this.db.prepare(sql).all(...args, f.limit) as Row[]).map(journalFrom);
  }

  async enqueueSms(m: OutboxInsert): Promise<number> {
    const r = this.st(`INSERT INTO outbox (priority, kind, phone, client_id, body, body_enc, secret, state, created_at, not_before, expires_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)`).run(
      m.priority, m.kind, m.phone, m.clientId, m.body, m.bodyEnc, m.secret ? 1 : 0, m.at, m.at, m.expiresAt, m.at,
    );
    return Number(r.lastInsertRowid);
  }

  async listOutbox(f: { limit: number; state?: string; duplicateRisk?: boolean; before?: number }): Promise<OutboxRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (f.state) {
      where.push('state = ?');
      args.push(f.state);
    }
    if (f.duplicateRisk) where.push('duplicate_risk = 1');
    if (f.before !== undefined) {
      where.push('id < ?');
      args.push(f.before);
    }
    const rows = this.st(`SELECT * FROM outbox${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...args, f.limit);
    const ids = this.st('SELECT message_id FROM outbox_parts WHERE outbox_id = ? ORDER BY seq');
    return (rows as Row[]).map((r) => ({
      ...outboxFrom(r),
      messageIds: (ids.all(r.id) as Array<{ message_id: string }>).map((x) => x.message_id),
    }));
  }

  async insertLedger(l: { clientId: number; amount: number; kind: 'payment' | 'charge' | 'refund'; ref: string; note: string | null; at: string }): Promise<number> {
    return uniqueWrite(() => {
      const r = this.st('INSERT INTO ledger (client_id, amount, kind, ref, note, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(l.clientId, l.amount, l.kind, l.ref, l.note, l.at);
      return Number(r.lastInsertRowid);
    });
  }

  async listServices(): Promise<ServiceRow[]> {
    return (this.st('SELECT * FROM services ORDER BY code').all() as Row[]).map((r) => ({
      code: r.code as string, nameRu: r.name_ru as string, nameKk: r.name_kk as string, monthlyFee: r.monthly_fee as number,
      smsFee: r.sms_fee as number, active: r.active === 1,
    }));
  }

  async updateService(code: string, fees: { monthlyFee?: number; smsFee?: number }): Promise<boolean> {
    return this.st('UPDATE services SET monthly_fee = COALESCE(?, monthly_fee), sms_fee = COALESCE(?, sms_fee) WHERE code = ?')
      .run(fees.monthlyFee ?? null, fees.smsFee ?? null, code).changes === 1;
  }

  async listSubscriptions(clientId: number): Promise<Array<{ service: string; state: string; startedAt: string }>> {
    return (this.st('SELECT * FROM subscriptions WHERE client_id = ? ORDER BY service_code').all(clientId) as Row[])
      .map((r) => ({ service: r.service_code as string, state: r.state as string, startedAt: r.started_at as string }));
  }

  async insertSession(x: { tokenHash: string; numberId: number; clientId: number; channel: 'app' | 'chat'; at: string; expiresAt: string }): Promise<void> {
    return uniqueWrite(() => {
      this.st(`INSERT INTO sessions (token_hash, number_id, client_id, channel, created_at, expires_at, last_seen_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`).run(x.tokenHash, x.numberId, x.clientId, x.channel, x.at, x.expiresAt, x.at);
    });
  }

  async getSession(tokenHash: string): Promise<SessionRow | undefined> {
    const r = this.st('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    if (!r) return undefined;
    return {
      tokenHash: r.token_hash as string, numberId: r.number_id as number, clientId: r.client_id as number,
      channel: r.channel as 'app' | 'chat', createdAt: r.created_at as string, expiresAt: r.expires_at as string,
      lastSeenAt: r.last_seen_at as string, revokedAt: (r.revoked_at as string | null) ?? null,
      pendingChallenge: (r.pending_challenge as string | null) ?? null,
    };
  }

  async touchSession(tokenHash: string, at: string, expiresAt: string): Promise<void> {
    this.st('UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?').run(at, expiresAt, tokenHash);
  }

  async revokeSession(tokenHash: string, at: string): Promise<boolean> {
    return this.st('UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL').run(at, tokenHash).changes === 1;
  }

  async revokeSessions(numberId: number, at: string): Promise<number> {
    return this.st('UPDATE sessions SET revoked_at = ? WHERE number_id = ? AND revoked_at IS NULL').run(at, numberId).changes;
  }

  async setSessionChallenge(tokenHash: string, challengeId: string | null): Promise<void> {
    this.st('UPDATE sessions SET pending_challenge = ? WHERE token_hash = ?').run(challengeId, tokenHash);
  }

  async insertOperator(o: { name: string; role: 'operator' | 'admin'; tokenHash: string; at: string; expiresAt: string }): Promise<number> {
    return uniqueWrite(() => {
      return Number(this.st('INSERT INTO operators (name, role, token_hash, created_at, token_issued_at, token_expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(o.name, o.role, o.tokenHash, o.at, o.at, o.expiresAt).lastInsertRowid);
    });
  }

  async getOperatorByToken(tokenHash: string): Promise<OperatorRow | undefined> {
    const r = this.st('SELECT * FROM operators WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r && operatorFrom(r);
  }

  async getOperatorByName(name: string): Promise<OperatorRow | undefined> {
    const r = this.st('SELECT * FROM operators WHERE name = ?').get(name) as Row | undefined;
    return r && operatorFrom(r);
  }

  async listOperators(): Promise<OperatorRow[]> {
    return (this.st('SELECT * FROM operators ORDER BY id').all() as Row[]).map(operatorFrom);
  }

  async setOperatorDisabled(id: number, at: string | null): Promise<boolean> {
    const sql = at === null
      ? 'UPDATE operators SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL'
      : 'UPDATE operators SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL';
    return (at === null ? this.st(sql).run(id) : this.st(sql).run(at, id)).changes === 1;
  }

  async setOperatorToken(id: number, tokenHash: string, at: string, expiresAt: string): Promise<void> {
    return uniqueWrite(() => {
      this.st('UPDATE operators SET token_hash = ?, token_issued_at = ?, token_expires_at = ? WHERE id = ?').run(tokenHash, at, expiresAt, id);
    });
  }

  async touchOperator(id: number, at: string): Promise<void> {
    this.st('UPDATE operators SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  async insertMonitoringEvent(e: MonitoringEventInsert): Promise<{ row: MonitoringEventRow; duplicate: boolean }> {
    const r = this.st(`INSERT OR IGNORE INTO monitoring_events (source_id, object_code, type, kind, zone, event_at, received_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(e.sourceId, e.objectCode, e.type, e.kind, e.zone, e.eventAt, e.receivedAt);
    const row = this.st('SELECT * FROM monitoring_events WHERE source_id = ?').get(e.sourceId) as Row;
    return {
      duplicate: r.changes === 0,
      row: {
        id: row.id as number, sourceId: row.source_id as string, objectCode: row.object_code as string, type: row.type as string,
        kind: (row.kind as string | null) ?? null, zone: (row.zone as number | null) ?? null, eventAt: row.event_at as string,
        receivedAt: row.received_at as string, processedAt: (row.processed_at as string | null) ?? null, result: (row.result as string | null) ?? null,
      },
    };
  }

  async setEventResult(id: number, result: string, at: string, zoneKey: string | null): Promise<void> {
    this.st('UPDATE monitoring_events SET result = ?, processed_at = ?, zone_key = ? WHERE id = ?').run(result, at, zoneKey, id);
  }

  async recentAlarm(objectCode: string, zoneKey: string, since: string, exceptId: number): Promise<boolean> {
    return this.st(`SELECT 1 FROM monitoring_events WHERE object_code = ? AND zone_key = ? AND type = 'alarm'
      AND result IN ('alarm', 'grouped') AND received_at > ? AND id <> ? LIMIT 1`).get(objectCode, zoneKey, since, exceptId) !== undefined;
  }

  async openAlarm(objectCode: string): Promise<MonitoringEventRow | undefined> {
    const last = this.st(`SELECT * FROM monitoring_events WHERE object_code = ? AND result IN ('alarm', 'restored')
      ORDER BY event_at DESC, id DESC LIMIT 1`).get(objectCode) as Row | undefined;
    return last && last.result === 'alarm' ? eventFrom(last) : undefined;
  }

  async setCalloutState(eventId: number, state: 'pending' | 'running' | 'done'): Promise<void> {
    this.st('UPDATE monitoring_events SET callout_state = ? WHERE id = ?').run(state, eventId);
  }

  async claimCallouts(holder: string, at: string, leaseUntil: string, skip: number[]): Promise<MonitoringEventRow[]> {
    // the ids this instance is calling now come as one JSON array (any number of them, one statement)
    const rows = this.st(`UPDATE monitoring_events SET callout_state = 'running', callout_holder = ?, callout_lease_until = ?
      WHERE callout_state = 'pending'
         OR (callout_state = 'running' AND (callout_lease_until IS NULL OR callout_lease_until <= ?))
         OR (callout_state = 'running' AND callout_holder = ? AND id NOT IN (SELECT value FROM json_each(?)))
      RETURNING *`).all(holder, leaseUntil, at, holder, JSON.stringify(skip)) as Row[];
    return rows.map(eventFrom).sort((a, b) => a.id - b.id);
  }

  async renewCallouts(eventIds: number[], holder: string, leaseUntil: string): Promise<number[]> {
    const renew = this.st("UPDATE monitoring_events SET callout_lease_until = ? WHERE id = ? AND callout_state = 'running' AND callout_holder = ?");
    return eventIds.filter((id) => renew.run(leaseUntil, id, holder).changes === 1);
  }

  async finishCallout(eventId: number, holder: string): Promise<boolean> {
    return this.st("UPDATE monitoring_events SET callout_state = 'done' WHERE id = ? AND callout_state = 'running' AND callout_holder = ?")
      .run(eventId, holder).changes === 1;
  }

  async setPriorStatus(objectId: number, prior: string | null): Promise<void> {
    this.st('UPDATE objects SET prior_status = ? WHERE id = ?').run(prior, objectId);
  }

  async getPriorStatus(objectId: number): Promise<string | null> {
    return ((this.st('SELECT prior_status FROM objects WHERE id = ?').get(objectId) as { prior_status: string | null } | undefined)?.prior_status) ?? null;
  }

  async insertAlert(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null; at: string }): Promise<number> {
    return Number(this.st('INSERT INTO alerts (kind, client_id, object_code, phone, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(a.kind, a.clientId, a.objectCode, a.phone, a.detail, a.at).lastInsertRowid);
  }

  async recentAlert(kind: string, key: string, since: string): Promise<boolean> {
    return this.st('SELECT 1 FROM alerts WHERE kind = ? AND (phone = ? OR object_code = ?) AND created_at > ? LIMIT 1').get(kind, key, key, since) !== undefined;
  }

  async listAlerts(openOnly: boolean, limit: number): Promise<AlertRow[]> {
    const rows = (openOnly
      ? this.st('SELECT * FROM alerts WHERE acknowledged_at IS NULL ORDER BY id DESC LIMIT ?').all(limit)
      : this.st('SELECT * FROM alerts ORDER BY id DESC LIMIT ?').all(limit)) as Row[];
    return rows.map(alertFrom);
  }

  async ackAlert(id: number, by: string, at: string): Promise<boolean> {
    return this.st('UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL').run(at, by, id).changes === 1;
  }

  async insertCallout(c: { eventId: number; objectCode: string; phone: string; round: number; at: string }): Promise<number> {
    return Number(this.st('INSERT INTO callouts (event_id, object_code, phone, round, started_at) VALUES (?, ?, ?, ?, ?)')
      .run(c.eventId, c.objectCode, c.phone, c.round, c.at).lastInsertRowid);
  }

  async calloutAcknowledged(eventId: number): Promise<boolean> {
    return this.st("SELECT 1 FROM callouts WHERE event_id = ? AND result = 'acknowledged' LIMIT 1").get(eventId) !== undefined;
  }

  async endCallout(id: number, result: string, at: string): Promise<void> {
    this.st('UPDATE callouts SET result = ?, ended_at = ? WHERE id = ?').run(result, at, id);
  }

  async allSubscriptions(): Promise<Array<{ clientId: number; service: string; state: string }>> {
    return (this.st("SELECT client_id, service_code, state FROM subscriptions WHERE state <> 'ended' ORDER BY client_id, service_code").all() as Row[])
      .map((r) => ({ clientId: r.client_id as number, service: r.service_code as string, state: r.state as string }));
  }

  async addSubscription(clientId: number, service: string, at: string): Promise<void> {
    this.st("INSERT OR IGNORE INTO subscriptions (client_id, service_code, state, started_at) VALUES (?, ?, 'active', ?)").run(clientId, service, at);
  }

  async setSubscriptionState(clientId: number, service: string, state: 'active' | 'suspended'): Promise<void> {
    this.st('UPDATE subscriptions SET state = ? WHERE client_id = ? AND service_code = ?').run(state, clientId, service);
  }

  async tariffFor(service: string, period: string): Promise<{ monthlyFee: number; smsFee: number } | undefined> {
    const r = this.st('SELECT monthly_fee, sms_fee FROM tariffs WHERE service_code = ? AND from_period <= ? ORDER BY from_period DESC LIMIT 1').get(service, period) as Row | undefined;
    return r && { monthlyFee: r.monthly_fee as number, smsFee: r.sms_fee as number };
  }

  async setTariffFrom(service: string, period: string, monthlyFee: number, smsFee: number): Promise<void> {
    this.st('INSERT OR REPLACE INTO tariffs (service_code, from_period, monthly_fee, sms_fee) VALUES (?, ?, ?, ?)').run(service, period, monthlyFee, smsFee);
  }

  async billingNotice(clientId: number, kind: string, period: string, at: string): Promise<boolean> {
    return this.st('INSERT OR IGNORE INTO billing_notices (client_id, kind, period, at) VALUES (?, ?, ?, ?)').run(clientId, kind, period, at).changes === 1;
  }

  async ledgerHas(ref: string): Promise<boolean> {
    return this.st('SELECT 1 FROM ledger WHERE ref = ?').get(ref) !== undefined;
  }

  async rateHit(limits: RateLimit[], at: string): Promise<boolean> {
    const now = Date.parse(at);
    const since = (l: RateLimit): string => new Date(now - l.windowMs).toISOString();
    for (const l of limits) {
      if (l.key.length > RATE_KEY_MAX) throw new Error(`rate-limit key longer than ${RATE_KEY_MAX} characters`);
    }
    // expired hits of any key (at most a hundred a time), then this key's hits past its window
    this.st('DELETE FROM rate_hits WHERE rowid IN (SELECT rowid FROM rate_hits WHERE until <= ? LIMIT 100)').run(at);
    const prune = this.st('DELETE FROM rate_hits WHERE key = ? AND at <= ?');
    const count = this.st('SELECT COUNT(*) AS n FROM rate_hits WHERE key = ? AND at > ?');
    let allowed = true;
    for (const l of limits) {
      prune.run(l.key, since(l));
      if ((count.get(l.key, since(l)) as { n: number }).n >= l.max) allowed = false;
    }
    if (!allowed) return false;
    const hit = this.st('INSERT INTO rate_hits (key, at, until) VALUES (?, ?, ?)');
    for (const l of limits) hit.run(l.key, at, new Date(now + l.windowMs).toISOString());
    return true;
  }

  // ---- documents held for confirmation

  // ---- alarm panels (SIA DC-09)

  async putPanel(p: { account: string; objectId: number; keySealed: string | null; supervisionS: number; dueMs: number; at: string; by: string | null }): Promise<void> {
    uniqueWrite(() => {
      const old = this.st('SELECT account, created_at, link, lost_at FROM panel_accounts WHERE object_id = ?').get(p.objectId) as Row | undefined;
      this.st('DELETE FROM panel_accounts WHERE object_id = ?').run(p.objectId);
      this.st(`INSERT INTO panel_accounts (account, object_id, key_sealed, supervision_s, link, last_seen_at, due_ms, lost_at, created_at, updated_at, updated_by)
        VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`)
        .run(p.account, p.objectId, p.keySealed, p.supervisionS, old?.link ?? 'up', p.dueMs, old?.lost_at ?? null,
          old && old.account === p.account ? old.created_at : p.at, p.at, p.by);
    });
  }

  async deletePanel(objectId: number): Promise<boolean> {
    return this.st('DELETE FROM panel_accounts WHERE object_id = ?').run(objectId).changes === 1;
  }

  async getPanel(account: string): Promise<PanelRow | undefined> {
    const r = this.st(`${PANEL_SELECT} WHERE p.account = ?`).get(account) as Row | undefined;
    return r ? panelFrom(r) : undefined;
  }

  async panelOfObject(objectId: number): Promise<PanelRow | undefined> {
    const r = this.st(`${PANEL_SELECT} WHERE p.object_id = ?`).get(objectId) as Row | undefined;
    return r ? panelFrom(r) : undefined;
  }

  async listPanels(): Promise<PanelRow[]> {
    return (this.st(`${PANEL_SELECT} ORDER BY p.account`).all() as Row[]).map(panelFrom);
  }

  async panelSeen(account: string, at: string, atMs: number): Promise<PanelRow | undefined> {
    this.st(`UPDATE panel_accounts SET last_seen_at = ?, due_ms = max(due_ms, ? + supervision_s * 1000)
      WHERE account = ? AND (last_seen_at IS NULL OR last_seen_at < ?)`).run(at, atMs, account, at);
    return this.getPanel(account);
  }

  async duePanels(atMs: number, limit: number): Promise<PanelRow[]> {
    return (this.st(`${PANEL_SELECT} WHERE p.link = 'up' AND p.due_ms <= ? ORDER BY p.due_ms LIMIT ?`).all(atMs, limit) as Row[]).map(panelFrom);
  }

  async markPanelLost(account: string, atMs: number, at: string): Promise<boolean> {
    return this.st("UPDATE panel_accounts SET link = 'lost', lost_at = ? WHERE account = ? AND link = 'up' AND due_ms <= ?").run(at, account, atMs).changes === 1;
  }

  async setPanelFrame(account: string, frame: string, atMs: number): Promise<void> {
    this.st('UPDATE panel_accounts SET last_frame = ?, last_frame_ms = ? WHERE account = ?').run(frame, atMs, account);
  }

  async markPanelUp(account: string): Promise<boolean> {
    return this.st("UPDATE panel_accounts SET link = 'up', lost_at = NULL WHERE account = ? AND link = 'lost'").run(account).changes === 1;
  }

  async insertHold(h: HoldInsert): Promise<number> {
    return uniqueWrite(() => Number(this.st(`INSERT INTO holds (client_id, number_id, object_id, action, channel, challenge_id, reasons, state, requested_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(h.clientId, h.numberId, h.objectId, h.action, h.channel, h.challengeId, h.reasons, h.state, h.requestedAt, h.expiresAt).lastInsertRowid));
  }

  async getHold(id: number): Promise<HoldRow | undefined> {
    const r = this.st('SELECT * FROM holds WHERE id = ?').get(id) as Row | undefined;
    return r ? holdFrom(r) : undefined;
  }

  async holdForChallenge(challengeId: string): Promise<HoldRow | undefined> {
    const r = this.st('SELECT * FROM holds WHERE challenge_id = ?').get(challengeId) as Row | undefined;
    return r ? holdFrom(r) : undefined;
  }

  async listHolds(f: { open?: boolean; clientId?: number; limit: number }): Promise<HoldRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.open) where.push("state IN ('awaiting-code', 'pending', 'calling')");
    if (f.clientId !== undefined) {
      where.push('client_id = ?');
      args.push(f.clientId);
    }
    const sql = `SELECT * FROM holds ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.st(sql).all(...args, f.limit) as Row[]).map(holdFrom);
  }

  async moveHold(id: number, from: HoldState[], state: HoldState, patch: Partial<Pick<HoldRow, 'expiresAt' | 'decidedAt' | 'decidedBy' | 'result'>> = {}): Promise<boolean> {
    return this.st(`UPDATE holds SET state = ?, expires_at = coalesce(?, expires_at), decided_at = coalesce(?, decided_at),
      decided_by = coalesce(?, decided_by), result = coalesce(?, result)
      WHERE id = ? AND state IN (SELECT value FROM json_each(?))`)
      .run(state, patch.expiresAt ?? null, patch.decidedAt ?? null, patch.decidedBy ?? null, patch.result ?? null, id, JSON.stringify(from)).changes === 1;
  }

  async claimHolds(holder: string, at: string, leaseUntil: string, skip: number[]): Promise<HoldRow[]> {
    const rows = this.st(`UPDATE holds SET state = 'calling', holder = ?, lease_until = ?
      WHERE state = 'pending'
         OR (state = 'calling' AND (lease_until IS NULL OR lease_until <= ?))
         OR (state = 'calling' AND holder = ? AND id NOT IN (SELECT value FROM json_each(?)))
      RETURNING *`).all(holder, leaseUntil, at, holder, JSON.stringify(skip)) as Row[];
    return rows.map(holdFrom).sort((a, b) => a.id - b.id);
  }

  async renewHolds(ids: number[], holder: string, leaseUntil: string): Promise<number[]> {
    const renew = this.st("UPDATE holds SET lease_until = ? WHERE id = ? AND state = 'calling' AND holder = ?");
    return ids.filter((id) => renew.run(leaseUntil, id, holder).changes === 1);
  }

  async countHoldCall(id: number): Promise<void> {
    this.st('UPDATE holds SET calls = calls + 1 WHERE id = ?').run(id);
  }

  async dueHolds(at: string, limit: number): Promise<HoldRow[]> {
    return (this.st(`SELECT * FROM holds WHERE state IN ('awaiting-code', 'pending', 'calling') AND expires_at <= ? ORDER BY id LIMIT ?`)
      .all(at, limit) as Row[]).map(holdFrom);
  }

  // ---------------------------------------------------------------- schedules

  async getSchedule(objectId: number): Promise<ScheduleRow | undefined> {
    const heads = this.st('SELECT * FROM object_schedules WHERE object_id = ?').all(objectId) as Row[];
    if (heads.length === 0) return undefined;
    return schedulesFrom(heads,
      this.st('SELECT * FROM schedule_days WHERE object_id = ? ORDER BY weekday').all(objectId) as Row[],
      this.st('SELECT * FROM schedule_exceptions WHERE object_id = ? ORDER BY date').all(objectId) as Row[])[0];
  }

  async listSchedules(exceptionsFrom: string): Promise<ScheduleRow[]> {
    return schedulesFrom(
      this.st('SELECT * FROM object_schedules ORDER BY object_id').all() as Row[],
      this.st('SELECT * FROM schedule_days ORDER BY object_id, weekday').all() as Row[],
      this.st('SELECT * FROM schedule_exceptions WHERE date >= ? ORDER BY object_id, date').all(exceptionsFrom) as Row[],
    );
  }

  async putSchedule(s: { objectId: number; days: DayRule[]; notifyOffSchedule: boolean; at: string; by: string | null }): Promise<void> {
    this.st(`INSERT INTO object_schedules (object_id, notify_off_schedule, updated_at, updated_by) VALUES (?, ?, ?, ?)
      ON CONFLICT (object_id) DO UPDATE SET notify_off_schedule = excluded.notify_off_schedule, updated_at = excluded.updated_at, updated_by = excluded.updated_by`)
      .run(s.objectId, s.notifyOffSchedule ? 1 : 0, s.at, s.by);
    this.st('DELETE FROM schedule_days WHERE object_id = ?').run(s.objectId);
    const day = this.st('INSERT INTO schedule_days (object_id, weekday, arm_by, open_from) VALUES (?, ?, ?, ?)');
    for (const d of s.days) day.run(s.objectId, d.weekday, d.armBy, d.openFrom);
  }

  async deleteSchedule(objectId: number): Promise<boolean> {
    this.st('DELETE FROM schedule_days WHERE object_id = ?').run(objectId);
    this.st('DELETE FROM schedule_exceptions WHERE object_id = ?').run(objectId);
    return this.st('DELETE FROM object_schedules WHERE object_id = ?').run(objectId).changes === 1;
  }

  async putScheduleException(objectId: number, e: ScheduleException): Promise<void> {
    this.st('INSERT OR REPLACE INTO schedule_exceptions (object_id, date, closed, arm_by, open_from, note) VALUES (?, ?, ?, ?, ?, ?)')
      .run(objectId, e.date, e.closed ? 1 : 0, e.armBy, e.openFrom, e.note);
  }

  async deleteScheduleException(objectId: number, date: string): Promise<boolean> {
    return this.st('DELETE FROM schedule_exceptions WHERE object_id = ? AND date = ?').run(objectId, date).changes === 1;
  }

  async scheduleNotice(objectId: number, date: string, kind: string, at: string): Promise<boolean> {
    return this.st('INSERT OR IGNORE INTO schedule_notices (object_id, date, kind, at) VALUES (?, ?, ?, ?)').run(objectId, date, kind, at).changes === 1;
  }

  // ---- duress code

  async getDuress(clientId: number): Promise<DuressRow | undefined> {
    const r = this.st('SELECT * FROM duress_codes WHERE client_id = ?').get(clientId) as Row | undefined;
    return r && duressFrom(r);
  }

  async setDuress(clientId: number, codeHash: Buffer | null, at: string, by: string): Promise<void> {
    this.st(`INSERT INTO duress_codes (client_id, code_hash, set_at, cleared_at, changed_by) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(client_id) DO UPDATE SET code_hash = excluded.code_hash, changed_by = excluded.changed_by,
        set_at = COALESCE(excluded.set_at, duress_codes.set_at), cleared_at = COALESCE(excluded.cleared_at, duress_codes.cleared_at)`)
      .run(clientId, codeHash, codeHash ? at : null, codeHash ? null : at, by);
  }

  // ---- call history

  async insertCall(c: CallInsert): Promise<void> {
    uniqueWrite(() => this.st(`INSERT INTO calls (id, direction, purpose, phone, client_id, object_code, started_at, event_id, round)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(c.id, c.direction, c.purpose, c.phone, c.clientId, c.objectCode, c.startedAt, c.eventId, c.round));
  }

  async updateCall(id: string, u: CallUpdate): Promise<boolean> {
    const row = this.st('SELECT actions FROM calls WHERE id = ?').get(id) as Row | undefined;
    if (!row) return false;
    const actions = u.actions?.length ? appendedActions(row.actions, u.actions) : (row.actions as string);
    const [answeredAt, clientId, objectCode, phone, endedAt, outcome] = callUpdateValues(u);
    this.st(`UPDATE calls SET answered_at = COALESCE(answered_at, ?), client_id = COALESCE(?, client_id), object_code = COALESCE(?, object_code),
      phone = COALESCE(?, phone), outcome = CASE WHEN ended_at IS NULL THEN COALESCE(?, outcome) ELSE outcome END,
      ended_at = COALESCE(ended_at, ?), actions = ? WHERE id = ?`).run(answeredAt, clientId, objectCode, phone, outcome, endedAt, actions, id);
    return true;
  }

  async listCalls(f: CallFilter): Promise<CallRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const add = (cond: string, v: string | number | undefined): void => {
      if (v === undefined) return;
      where.push(cond);
      args.push(v);
    };
    add('object_code = ?', f.objectCode);
    add('phone = ?', f.phone);
    add('purpose = ?', f.purpose);
    add('started_at >= ?', f.from);
    add('started_at < ?', f.until);
    add('seq < ?', f.before);
    const rows = this.st(`SELECT * FROM calls${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`).all(...args, f.limit) as Row[];
    return rows.map(callFrom);
  }
}
