import type pg from 'pg';
import type {
  AlertRow, CallFilter, CallInsert, CallRow, CallUpdate, ChallengeRow, DuressRow, JournalFilter, MonitoringEventInsert, MonitoringEventRow, OperatorRow,
  OutboxInsert, OutboxRow, ServiceRow, RateLimit, SessionRow, Store, StoreTx, HoldInsert, HoldRow, HoldState, PanelRow,
} from '../core/ports.ts';
import { GENESIS_HASH, recordHash } from '../domain/journal.ts';
import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import type { CodeClass } from '../domain/otp.ts';
import type {
  ClientView, Lang, NumberState, NumberView, ObjectStatus, ObjectView,
} from '../domain/types.ts';
import { duplicateKeyOf, isReadTimeout, JOURNAL_LOCK, lockSql } from './pg-db.ts';
import {
  alertFrom, appendedActions, callFrom, callUpdateValues, challengeFrom, clientFrom, DURESS_HIDDEN_SQL, duressFrom, eventFrom, holdFrom, journalFrom, objectFrom, operatorFrom, outboxFrom, PANEL_SELECT, panelFrom, schedulesFrom, str,
} from './rows.ts';
import type { Row } from './rows.ts';
import type { ScheduleRow } from '../core/ports.ts';
import type { DayRule, ScheduleException } from '../domain/schedule.ts';
import type { PgDatabase } from './pg-db.ts';


/** The longest rate-limit key the store takes (see `StoreTx.rateHit`). */
const RATE_KEY_MAX = 200;

const NUMBER_COLUMNS = `n.*, ARRAY(SELECT o.code FROM number_objects no JOIN objects o ON o.id = no.object_id
  WHERE no.number_id = n.id ORDER BY o.code) AS codes`;

/** A number row selected with `NUMBER_COLUMNS` (its object codes in `codes`). */
function numberFrom(r: Row): NumberView {
  return {
    id: r.id as number,
    clientId: r.client_id as number,
    phone: r.phone as string,
    state: r.state as NumberState,
    allObjects: r.all_objects === 1,
    objectCodes: r.codes as string[],
    blockReason: str(r.block_reason),
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

/** An outbox row selected with its parts' message ids in `message_ids`. */
function outboxWithIds(r: Row): OutboxRow {
  return { ...outboxFrom(r), messageIds: r.message_ids as string[] };
}

/**
 * The store on PostgreSQL (see pg-db.ts for the transactions and their locks). Each
 * transaction gets its own `PgTx` over its pooled connection. A write transaction announces its
 * commit to the other processes when it changed something.
 */
export class PgStore implements Store {
  constructor(private readonly db: PgDatabase) {}

  /** BEGIN, the write lock, `fn`, COMMIT (ROLLBACK when fn rejects); see `Store.transaction`. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.db.run(() => {
      let tx: PgTx | undefined;
      return this.db.writeTransaction(async (c) => {
        tx = new PgTx(c, false);
        try {
          return await fn(tx);
        } finally {
          tx.end();
        }
      }, () => (tx?.wrote ? this.db.notifySql() : null));
    });
  }

  /** A REPEATABLE READ, READ ONLY transaction whose `tx` refuses every write; see `Store.read`. */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.db.run(() => this.db.readTransaction(async (c) => {
      const tx = new PgTx(c, true);
      try {
        return await fn(tx);
      } finally {
        tx.end();
      }
    }));
  }
}

/**
 * One transaction's view of the repositories over its pooled connection. Its statements run one
 * at a time, in the order they were asked for. Usable only while its transaction is open.
 */
export class PgTx implements StoreTx {
  private ended = false;
  private tail: Promise<unknown> = Promise.resolve();
  private journalLocked = false;
  private savepoints = 0;
  /** Whether a statement of this transaction changed a row (its commit is then announced). */
  wrote = false;

  /** `readOnly`: every statement that would change the database rejects (a read's `tx`). */
  constructor(private readonly c: pg.PoolClient, private readonly readOnly: boolean) {}

  /** Called when the transaction ended: any later use is a bug and rejects. */
  end(): void {
    this.ended = true;
  }

  /** Runs `body` after the statements asked for before it; rejects at once when the transaction ended. */
  private op<T>(write: boolean, body: () => Promise<T>): Promise<T> {
    if (this.ended) return Promise.reject(new Error('store transaction used after it ended'));
    if (write && this.readOnly) return Promise.reject(new Error('a write in a read-only transaction'));
    const p = this.tail.then(() => {
      if (this.ended) throw new Error('store transaction used after it ended');
      return body();
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.c.query<Row>(sql, params)).rows;
  }

  private async one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.c.query<Row>(sql, params)).rows[0];
  }

  /** A statement that changes rows: returns how many. */
  private async exec(sql: string, params: unknown[] = []): Promise<number> {
    const n = (await this.c.query(sql, params)).rowCount ?? 0;
    if (n > 0) this.wrote = true;
    return n;
  }

  /** An INSERT … RETURNING id. */
  private async insertId(sql: string, params: unknown[]): Promise<number> {
    const r = await this.c.query<{ id: number }>(sql, params);
    this.wrote = true;
    return r.rows[0]!.id;
  }

  private read<T>(body: () => Promise<T>): Promise<T> {
    return this.op(false, body);
  }

  private write<T>(body: () => Promise<T>): Promise<T> {
    return this.op(true, body);
  }

  /**
   * Writes whose unique keys callers rely on, inside a savepoint: a unique or primary key
   * violation undoes only these writes (the transaction goes on) and becomes a
   * `DuplicateKeyError` naming the key as SQLite does (e.g. `ledger.ref`).
   */
  private unique<T>(body: () => Promise<T>): Promise<T> {
    return this.write(async () => {
      const name = `unique_${++this.savepoints}`;
      await this.c.query(`SAVEPOINT ${name}`);
      let result: T;
      try {
        result = await body();
      } catch (e) {
        // a connection still busy with an unanswered statement cannot roll back: the transaction fails
        if (isReadTimeout(e)) throw e;
        try {
          await this.c.query(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`);
        } catch {
          throw e;
        }
        throw duplicateKeyOf(e) ?? e;
      }
      await this.c.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    });
  }

  insertClient(c: { name: string; lang: Lang; balance: number; at: string }): Promise<number> {
    return this.write(() => this.insertId('INSERT INTO clients (name, lang, balance, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
      [c.name, c.lang, c.balance, c.at]));
  }

  getClient(id: number): Promise<ClientView | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM clients WHERE id = $1', [id]);
      return r && clientFrom(r);
    });
  }

  listClients(): Promise<ClientView[]> {
    return this.read(async () => (await this.rows('SELECT * FROM clients ORDER BY id')).map(clientFrom));
  }

  setClientLang(id: number, lang: Lang): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE clients SET lang = $1, lang_chosen = 1 WHERE id = $2', [lang, id]);
    });
  }

  addBalance(id: number, delta: number): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE clients SET balance = balance + $1 WHERE id = $2', [delta, id]);
    });
  }

  setSuspended(id: number, at: string | null): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE clients SET suspended_at = $1 WHERE id = $2', [at, id]);
    });
  }

  insertObject(o: { clientId: number; code: string; address: string; at: string; calloutEnabled: boolean }): Promise<number> {
    return this.unique(() => this.insertId(`INSERT INTO objects (client_id, code, address, status, status_since, callout_enabled, created_at)
      VALUES ($1, $2, $3, 'disarmed', $4, $5, $4) RETURNING id`, [o.clientId, o.code, o.address, o.at, o.calloutEnabled ? 1 : 0]));
  }

  getObjectByCode(code: string): Promise<ObjectView | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM objects WHERE code = $1', [code]);
      return r && objectFrom(r);
    });
  }

  getObject(id: number): Promise<ObjectView | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM objects WHERE id = $1', [id]);
      return r && objectFrom(r);
    });
  }

  private async objectsOf(clientId?: number): Promise<ObjectView[]> {
    const rows = clientId === undefined
      ? await this.rows('SELECT * FROM objects ORDER BY code')
      : await this.rows('SELECT * FROM objects WHERE client_id = $1 ORDER BY code', [clientId]);
    return rows.map(objectFrom);
  }

  listObjects(clientId?: number): Promise<ObjectView[]> {
    return this.read(() => this.objectsOf(clientId));
  }

  setObjectStatus(id: number, status: ObjectStatus, since: string): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE objects SET status = $1, status_since = $2 WHERE id = $3', [status, since, id]);
    });
  }

  insertNumber(n: { clientId: number; phone: string; state: NumberState; allObjects: boolean; objectIds: number[]; at: string }): Promise<number> {
    return this.unique(async () => {
      const id = await this.insertId(`INSERT INTO numbers (client_id, phone, state, all_objects, position, created_at, updated_at)
        VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM numbers WHERE client_id = $1), $5, $5) RETURNING id`,
      [n.clientId, n.phone, n.state, n.allObjects ? 1 : 0, n.at]);
      if (n.objectIds.length > 0) {
        await this.exec('INSERT INTO number_objects (number_id, object_id) SELECT $1, unnest($2::bigint[])', [id, n.objectIds]);
      }
      return id;
    });
  }

  getLiveNumber(phone: string): Promise<NumberView | undefined> {
    return this.read(async () => {
      const r = await this.one(`SELECT ${NUMBER_COLUMNS} FROM numbers n WHERE n.phone = $1 AND n.state <> 'removed'`, [phone]);
      return r && numberFrom(r);
    });
  }

  getNumber(id: number): Promise<NumberView | undefined> {
    return this.read(async () => {
      const r = await this.one(`SELECT ${NUMBER_COLUMNS} FROM numbers n WHERE n.id = $1`, [id]);
      return r && numberFrom(r);
    });
  }

  listNumbers(clientId: number): Promise<NumberView[]> {
    return this.read(async () => (await this.rows(`SELECT ${NUMBER_COLUMNS} FROM numbers n WHERE n.client_id = $1 ORDER BY n.position, n.id`, [clientId]))
      .map(numberFrom));
  }

  setNumberState(id: number, state: NumberState, at: string, blockReason: string | null = null): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE numbers SET state = $1, block_reason = $2, updated_at = $3 WHERE id = $4', [state, blockReason, at, id]);
    });
  }

  objectsForNumber(n: NumberView): Promise<ObjectView[]> {
    return this.read(async () => {
      if (n.allObjects) return this.objectsOf(n.clientId);
      return (await this.rows(`SELECT o.* FROM number_objects no JOIN objects o ON o.id = no.object_id
        WHERE no.number_id = $1 ORDER BY o.code`, [n.id])).map(objectFrom);
    });
  }

  insertChallenge(c: ChallengeRow): Promise<void> {
    return this.unique(async () => {
      await this.exec(`INSERT INTO challenges (id, purpose, number_id, object_id, channel, code_hash, created_at, expires_at, attempts, state, operator)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
        c.id, c.purpose, c.numberId, c.objectId, c.channel, c.codeHash, c.createdAt, c.expiresAt, c.attempts, c.state, c.operator,
      ]);
    });
  }

  getChallenge(id: string): Promise<ChallengeRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM challenges WHERE id = $1', [id]);
      return r && challengeFrom(r);
    });
  }

  /** Newest first; two created in the same millisecond come in the order of their ids (PostgreSQL keeps no insertion order). */
  pendingChallenges(numberId: number): Promise<ChallengeRow[]> {
    return this.read(async () => (await this.rows(`SELECT * FROM challenges WHERE number_id = $1 AND state = 'pending'
      ORDER BY created_at DESC, id DESC`, [numberId])).map(challengeFrom));
  }

  updateChallenge(id: string, attempts: number, state: ChallengeRow['state']): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE challenges SET attempts = $1, state = $2 WHERE id = $3', [attempts, state, id]);
    });
  }

  revokeChallenges(numberId: number): Promise<number> {
    return this.write(() => this.exec("UPDATE challenges SET state = 'revoked' WHERE number_id = $1 AND state = 'pending'", [numberId]));
  }

  recordOtpSend(phone: string, cls: CodeClass, at: string): Promise<void> {
    return this.write(async () => {
      await this.exec('INSERT INTO otp_sends (phone, class, sent_at) VALUES ($1, $2, $3)', [phone, cls, at]);
    });
  }

  otpSendsSince(phone: string, since: string): Promise<Array<{ cls: CodeClass; at: string }>> {
    return this.read(async () => (await this.rows('SELECT class, sent_at FROM otp_sends WHERE phone = $1 AND sent_at > $2 ORDER BY sent_at', [phone, since]))
      .map((r) => ({ cls: r.class as CodeClass, at: r.sent_at as string })));
  }

  codeFloodSince(phone: string, cls: CodeClass, since: string): Promise<boolean> {
    return this.read(async () => (await this.one('SELECT 1 FROM otp_floods WHERE phone = $1 AND class = $2 AND at > $3 LIMIT 1', [phone, cls, since])) !== undefined);
  }

  recordCodeFlood(phone: string, cls: CodeClass, at: string, alertId: number | null): Promise<void> {
    return this.write(async () => {
      await this.exec('INSERT INTO otp_floods (phone, class, at, alert_id) VALUES ($1, $2, $3, $4)', [phone, cls, at, alertId]);
    });
  }

  getSetting(key: string): Promise<string | undefined> {
    return this.read(async () => (await this.one('SELECT value FROM settings WHERE key = $1', [key]))?.value as string | undefined);
  }

  setSetting(key: string, value: string, at: string, by: string | null): Promise<void> {
    return this.write(async () => {
      await this.exec(`INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`, [key, value, at, by]);
    });
  }

  /**
   * The next record of the chain. The journal's own lock (taken once per transaction, held to
   * its end) comes before reading the head, so appends of every process form one chain.
   */
  appendJournal(c: JournalContent): Promise<JournalRecord> {
    return this.write(async () => {
      if (!this.journalLocked) {
        await this.c.query(lockSql(JOURNAL_LOCK));
        this.journalLocked = true;
      }
      const last = await this.one('SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1');
      const seq = ((last?.seq as number | undefined) ?? 0) + 1;
      const prevHash = (last?.hash as string | undefined) ?? GENESIS_HASH;
      const hash = recordHash(seq, prevHash, c);
      await this.exec(`INSERT INTO journal (seq, at, channel, phone, client_id, object_code, action, auth, challenge_id, operator, outcome, reason, detail, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, [
        seq, c.at, c.channel, c.phone, c.clientId, c.objectCode, c.action, c.auth, c.challengeId, c.operator,
        c.outcome, c.reason, c.detail, prevHash, hash,
      ]);
      return { ...c, seq, prevHash, hash };
    });
  }

  journalPage(afterSeq: number, limit: number): Promise<JournalRecord[]> {
    return this.read(async () => {
      // rows as arrays: one object per record instead of two (the chain check reads every record)
      const r = await this.c.query<unknown[]>({
        text: `SELECT seq, at, channel, phone, client_id, object_code, action, auth, challenge_id, operator, outcome, reason,
          detail, prev_hash, hash FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2`,
        values: [afterSeq, limit],
        rowMode: 'array',
      });
      return r.rows.map((x) => ({
        seq: x[0] as number, at: x[1] as string, channel: x[2] as string, phone: x[3] as string | null, clientId: x[4] as number | null,
        objectCode: x[5] as string | null, action: x[6] as string, auth: x[7] as string, challengeId: x[8] as string | null,
        operator: x[9] as string | null, outcome: x[10] as string, reason: x[11] as string | null, detail: x[12] as string | null,
        prevHash: x[13] as string, hash: x[14] as string,
      }));
    });
  }

  searchJournal(f: JournalFilter): Promise<JournalRecord[]> {
    return this.read(async () => {
      const where: string[] = [];
      const args: unknown[] = [];
      const arg = (v: unknown): string => {
        args.push(v);
        return `$${args.length}`;
      };
      if (f.clientId !== undefined) where.push(`client_id = ${arg(f.clientId)}`);
      if (f.phone !== undefined) where.push(`phone = ${arg(f.phone)}`);
      if (f.objectCode !== undefined) where.push(`object_code = ${arg(f.objectCode)}`);
      if (f.action !== undefined) where.push(`action = ${arg(f.action)}`);
      if (f.channel !== undefined) where.push(`channel = ${arg(f.channel)}`);
      if (f.outcome !== undefined) where.push(`outcome = ${arg(f.outcome)}`);
      if (f.since !== undefined) where.push(`at >= ${arg(f.since)}`);
      if (f.until !== undefined) where.push(`at < ${arg(f.until)}`);
      if (f.beforeSeq !== undefined) where.push(`seq < ${arg(f.beforeSeq)}`);
      if (f.visibleTo) {
        const codes = f.visibleTo.objectCodes;
        where.push(codes.length ? `(phone = ${arg(f.visibleTo.phone)} OR object_code = ANY(${arg(codes)}::text[]))` : `phone = ${arg(f.visibleTo.phone)}`);
        where.push(DURESS_HIDDEN_SQL);
      }
      const sql = `SELECT * FROM journal ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ${arg(f.limit)}`;
      return (await this.rows(sql, args)).map(journalFrom);
    });
  }

  enqueueSms(m: OutboxInsert): Promise<number> {
    return this.write(() => this.insertId(`INSERT INTO outbox (priority, kind, phone, client_id, body, body_enc, secret, state, created_at, not_before, expires_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8, $9, $8) RETURNING id`, [
      m.priority, m.kind, m.phone, m.clientId, m.body, m.bodyEnc, m.secret ? 1 : 0, m.at, m.expiresAt,
    ]));
  }

  listOutbox(f: { limit: number; state?: string; duplicateRisk?: boolean; before?: number }): Promise<OutboxRow[]> {
    return this.read(async () => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.state) {
        args.push(f.state);
        where.push(`state = $${args.length}`);
      }
      if (f.duplicateRisk) where.push('duplicate_risk = 1');
      if (f.before !== undefined) {
        args.push(f.before);
        where.push(`id < $${args.length}`);
      }
      args.push(f.limit);
      const rows = await this.rows(`SELECT o.*, ARRAY(SELECT p.message_id FROM outbox_parts p WHERE p.outbox_id = o.id ORDER BY p.seq) AS message_ids
        FROM outbox o${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`, args);
      return rows.map(outboxWithIds);
    });
  }

  insertLedger(l: { clientId: number; amount: number; kind: 'payment' | 'charge' | 'refund'; ref: string; note: string | null; at: string }): Promise<number> {
    return this.unique(() => this.insertId('INSERT INTO ledger (client_id, amount, kind, ref, note, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
      [l.clientId, l.amount, l.kind, l.ref, l.note, l.at]));
  }

  listServices(): Promise<ServiceRow[]> {
    return this.read(async () => (await this.rows('SELECT * FROM services ORDER BY code')).map((r) => ({
      code: r.code as string, nameRu: r.name_ru as string, nameKk: r.name_kk as string, monthlyFee: r.monthly_fee as number,
      smsFee: r.sms_fee as number, active: r.active === 1,
    })));
  }

  updateService(code: string, fees: { monthlyFee?: number; smsFee?: number }): Promise<boolean> {
    return this.write(async () => (await this.exec('UPDATE services SET monthly_fee = COALESCE($1, monthly_fee), sms_fee = COALESCE($2, sms_fee) WHERE code = $3',
      [fees.monthlyFee ?? null, fees.smsFee ?? null, code])) === 1);
  }

  listSubscriptions(clientId: number): Promise<Array<{ service: string; state: string; startedAt: string }>> {
    return this.read(async () => (await this.rows('SELECT * FROM subscriptions WHERE client_id = $1 ORDER BY service_code', [clientId]))
      .map((r) => ({ service: r.service_code as string, state: r.state as string, startedAt: r.started_at as string })));
  }

  insertSession(x: { tokenHash: string; numberId: number; clientId: number; channel: 'app' | 'chat'; at: string; expiresAt: string }): Promise<void> {
    return this.unique(async () => {
      await this.exec(`INSERT INTO sessions (token_hash, number_id, client_id, channel, created_at, expires_at, last_seen_at)
        VALUES ($1, $2, $3, $4, $5, $6, $5)`, [x.tokenHash, x.numberId, x.clientId, x.channel, x.at, x.expiresAt]);
    });
  }

  getSession(tokenHash: string): Promise<SessionRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM sessions WHERE token_hash = $1', [tokenHash]);
      if (!r) return undefined;
      return {
        tokenHash: r.token_hash as string, numberId: r.number_id as number, clientId: r.client_id as number,
        channel: r.channel as 'app' | 'chat', createdAt: r.created_at as string, expiresAt: r.expires_at as string,
        lastSeenAt: r.last_seen_at as string, revokedAt: str(r.revoked_at), pendingChallenge: str(r.pending_challenge),
      };
    });
  }

  touchSession(tokenHash: string, at: string, expiresAt: string): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3', [at, expiresAt, tokenHash]);
    });
  }

  revokeSession(tokenHash: string, at: string): Promise<boolean> {
    return this.write(async () => (await this.exec('UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL', [at, tokenHash])) === 1);
  }

  revokeSessions(numberId: number, at: string): Promise<number> {
    return this.write(() => this.exec('UPDATE sessions SET revoked_at = $1 WHERE number_id = $2 AND revoked_at IS NULL', [at, numberId]));
  }

  setSessionChallenge(tokenHash: string, challengeId: string | null): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE sessions SET pending_challenge = $1 WHERE token_hash = $2', [challengeId, tokenHash]);
    });
  }

  insertOperator(o: { name: string; role: 'operator' | 'admin'; tokenHash: string; at: string; expiresAt: string }): Promise<number> {
    return this.unique(() => this.insertId(`INSERT INTO operators (name, role, token_hash, created_at, token_issued_at, token_expires_at)
      VALUES ($1, $2, $3, $4, $4, $5) RETURNING id`, [o.name, o.role, o.tokenHash, o.at, o.expiresAt]));
  }

  getOperatorByToken(tokenHash: string): Promise<OperatorRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM operators WHERE token_hash = $1', [tokenHash]);
      return r && operatorFrom(r);
    });
  }

  getOperatorByName(name: string): Promise<OperatorRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM operators WHERE name = $1', [name]);
      return r && operatorFrom(r);
    });
  }

  listOperators(): Promise<OperatorRow[]> {
    return this.read(async () => (await this.rows('SELECT * FROM operators ORDER BY id')).map(operatorFrom));
  }

  setOperatorDisabled(id: number, at: string | null): Promise<boolean> {
    return this.write(async () => (at === null
      ? await this.exec('UPDATE operators SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL', [id])
      : await this.exec('UPDATE operators SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL', [at, id])) === 1);
  }

  setOperatorToken(id: number, tokenHash: string, at: string, expiresAt: string): Promise<void> {
    return this.unique(async () => {
      await this.exec('UPDATE operators SET token_hash = $1, token_issued_at = $2, token_expires_at = $3 WHERE id = $4', [tokenHash, at, expiresAt, id]);
    });
  }

  touchOperator(id: number, at: string): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE operators SET last_used_at = $1 WHERE id = $2', [at, id]);
    });
  }

  insertMonitoringEvent(e: MonitoringEventInsert): Promise<{ row: MonitoringEventRow; duplicate: boolean }> {
    return this.write(async () => {
      // one round trip: the new row, or (when its source id is known) the stored one
      const r = await this.one(`WITH ins AS (
          INSERT INTO monitoring_events (source_id, object_code, type, kind, zone, event_at, received_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source_id) DO NOTHING RETURNING *)
        SELECT ins.*, false AS duplicate FROM ins
        UNION ALL
        SELECT m.*, true AS duplicate FROM monitoring_events m WHERE m.source_id = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [e.sourceId, e.objectCode, e.type, e.kind, e.zone, e.eventAt, e.receivedAt]);
      if (!r) throw new Error(`monitoring event ${e.sourceId} neither stored nor found`);
      if (r.duplicate !== true) this.wrote = true;
      return { duplicate: r.duplicate === true, row: eventFrom(r) };
    });
  }

  setEventResult(id: number, result: string, at: string, zoneKey: string | null): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE monitoring_events SET result = $1, processed_at = $2, zone_key = $3 WHERE id = $4', [result, at, zoneKey, id]);
    });
  }

  recentAlarm(objectCode: string, zoneKey: string, since: string, exceptId: number): Promise<boolean> {
    return this.read(async () => (await this.one(`SELECT 1 FROM monitoring_events WHERE object_code = $1 AND zone_key = $2 AND type = 'alarm'
      AND result IN ('alarm', 'grouped') AND received_at > $3 AND id <> $4 LIMIT 1`, [objectCode, zoneKey, since, exceptId])) !== undefined);
  }

  openAlarm(objectCode: string): Promise<MonitoringEventRow | undefined> {
    return this.read(async () => {
      const last = await this.one(`SELECT * FROM monitoring_events WHERE object_code = $1 AND result IN ('alarm', 'restored')
        ORDER BY event_at DESC, id DESC LIMIT 1`, [objectCode]);
      return last && last.result === 'alarm' ? eventFrom(last) : undefined;
    });
  }

  setCalloutState(eventId: number, state: 'pending' | 'running' | 'done'): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE monitoring_events SET callout_state = $1 WHERE id = $2', [state, eventId]);
    });
  }

  claimCallouts(holder: string, at: string, leaseUntil: string, skip: number[]): Promise<MonitoringEventRow[]> {
    return this.write(async () => (await this.rows(`UPDATE monitoring_events SET callout_state = 'running', callout_holder = $1, callout_lease_until = $2
      WHERE id IN (SELECT id FROM monitoring_events
        WHERE callout_state = 'pending'
           OR (callout_state = 'running' AND (callout_lease_until IS NULL OR callout_lease_until <= $3))
           OR (callout_state = 'running' AND callout_holder = $1 AND NOT (id = ANY($4::bigint[])))
        FOR UPDATE SKIP LOCKED)
      RETURNING *`, [holder, leaseUntil, at, skip])).map(eventFrom).sort((a, b) => a.id - b.id));
  }

  renewCallouts(eventIds: number[], holder: string, leaseUntil: string): Promise<number[]> {
    if (eventIds.length === 0) return this.read(async () => []);
    return this.write(async () => (await this.rows(`UPDATE monitoring_events SET callout_lease_until = $1
      WHERE id = ANY($2::bigint[]) AND callout_state = 'running' AND callout_holder = $3 RETURNING id`, [leaseUntil, eventIds, holder]))
      .map((r) => Number(r.id)).sort((a, b) => eventIds.indexOf(a) - eventIds.indexOf(b)));
  }

  finishCallout(eventId: number, holder: string): Promise<boolean> {
    return this.write(async () => (await this.exec(`UPDATE monitoring_events SET callout_state = 'done'
      WHERE id = $1 AND callout_state = 'running' AND callout_holder = $2`, [eventId, holder])) === 1);
  }

  setPriorStatus(objectId: number, prior: string | null): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE objects SET prior_status = $1 WHERE id = $2', [prior, objectId]);
    });
  }

  getPriorStatus(objectId: number): Promise<string | null> {
    return this.read(async () => str((await this.one('SELECT prior_status FROM objects WHERE id = $1', [objectId]))?.prior_status));
  }

  insertAlert(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null; at: string }): Promise<number> {
    return this.write(() => this.insertId('INSERT INTO alerts (kind, client_id, object_code, phone, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
      [a.kind, a.clientId, a.objectCode, a.phone, a.detail, a.at]));
  }

  recentAlert(kind: string, key: string, since: string): Promise<boolean> {
    return this.read(async () => (await this.one('SELECT 1 FROM alerts WHERE kind = $1 AND (phone = $2 OR object_code = $2) AND created_at > $3 LIMIT 1',
      [kind, key, since])) !== undefined);
  }

  listAlerts(openOnly: boolean, limit: number): Promise<AlertRow[]> {
    return this.read(async () => {
      const rows = openOnly
        ? await this.rows('SELECT * FROM alerts WHERE acknowledged_at IS NULL ORDER BY id DESC LIMIT $1', [limit])
        : await this.rows('SELECT * FROM alerts ORDER BY id DESC LIMIT $1', [limit]);
      return rows.map(alertFrom);
    });
  }

  ackAlert(id: number, by: string, at: string): Promise<boolean> {
    return this.write(async () => (await this.exec('UPDATE alerts SET acknowledged_at = $1, acknowledged_by = $2 WHERE id = $3 AND acknowledged_at IS NULL',
      [at, by, id])) === 1);
  }

  insertCallout(c: { eventId: number; objectCode: string; phone: string; round: number; at: string }): Promise<number> {
    return this.write(() => this.insertId('INSERT INTO callouts (event_id, object_code, phone, round, started_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [c.eventId, c.objectCode, c.phone, c.round, c.at]));
  }

  calloutAcknowledged(eventId: number): Promise<boolean> {
    return this.read(async () => (await this.one("SELECT 1 FROM callouts WHERE event_id = $1 AND result = 'acknowledged' LIMIT 1", [eventId])) !== undefined);
  }

  endCallout(id: number, result: string, at: string): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE callouts SET result = $1, ended_at = $2 WHERE id = $3', [result, at, id]);
    });
  }

  allSubscriptions(): Promise<Array<{ clientId: number; service: string; state: string }>> {
    return this.read(async () => (await this.rows("SELECT client_id, service_code, state FROM subscriptions WHERE state <> 'ended' ORDER BY client_id, service_code"))
      .map((r) => ({ clientId: r.client_id as number, service: r.service_code as string, state: r.state as string })));
  }

  addSubscription(clientId: number, service: string, at: string): Promise<void> {
    return this.write(async () => {
      await this.exec(`INSERT INTO subscriptions (client_id, service_code, state, started_at) VALUES ($1, $2, 'active', $3)
        ON CONFLICT (client_id, service_code) DO NOTHING`, [clientId, service, at]);
    });
  }

  setSubscriptionState(clientId: number, service: string, state: 'active' | 'suspended'): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE subscriptions SET state = $1 WHERE client_id = $2 AND service_code = $3', [state, clientId, service]);
    });
  }

  tariffFor(service: string, period: string): Promise<{ monthlyFee: number; smsFee: number } | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT monthly_fee, sms_fee FROM tariffs WHERE service_code = $1 AND from_period <= $2 ORDER BY from_period DESC LIMIT 1', [service, period]);
      return r && { monthlyFee: r.monthly_fee as number, smsFee: r.sms_fee as number };
    });
  }

  setTariffFrom(service: string, period: string, monthlyFee: number, smsFee: number): Promise<void> {
    return this.write(async () => {
      await this.exec(`INSERT INTO tariffs (service_code, from_period, monthly_fee, sms_fee) VALUES ($1, $2, $3, $4)
        ON CONFLICT (service_code, from_period) DO UPDATE SET monthly_fee = EXCLUDED.monthly_fee, sms_fee = EXCLUDED.sms_fee`, [service, period, monthlyFee, smsFee]);
    });
  }

  billingNotice(clientId: number, kind: string, period: string, at: string): Promise<boolean> {
    return this.write(async () => (await this.exec(`INSERT INTO billing_notices (client_id, kind, period, at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (client_id, kind, period) DO NOTHING`, [clientId, kind, period, at])) === 1);
  }

  ledgerHas(ref: string): Promise<boolean> {
    return this.read(async () => (await this.one('SELECT 1 FROM ledger WHERE ref = $1', [ref])) !== undefined);
  }

  /**
   * Write transactions hold the database's write lock, so the count and the record are one
   * step for every instance; the sweep of other keys' expired hits skips rows locked elsewhere.
   */
  rateHit(limits: RateLimit[], at: string): Promise<boolean> {
    return this.write(async () => {
      const now = Date.parse(at);
      const since = (l: RateLimit): string => new Date(now - l.windowMs).toISOString();
      for (const l of limits) {
        if (l.key.length > RATE_KEY_MAX) throw new Error(`rate-limit key longer than ${RATE_KEY_MAX} characters`);
      }
      await this.exec('DELETE FROM rate_hits WHERE ctid IN (SELECT ctid FROM rate_hits WHERE until <= $1 LIMIT 100 FOR UPDATE SKIP LOCKED)', [at]);
      let allowed = true;
      for (const l of limits) {
        await this.exec('DELETE FROM rate_hits WHERE key = $1 AND at <= $2', [l.key, since(l)]);
        const n = Number((await this.one('SELECT COUNT(*)::int AS n FROM rate_hits WHERE key = $1 AND at > $2', [l.key, since(l)]))?.n ?? 0);
        if (n >= l.max) allowed = false;
      }
      if (!allowed) return false;
      for (const l of limits) {
        await this.exec('INSERT INTO rate_hits (key, at, until) VALUES ($1, $2, $3)', [l.key, at, new Date(now + l.windowMs).toISOString()]);
      }
      return true;
    });
  }

  // ---- documents held for confirmation

  // ---- alarm panels (SIA DC-09)

  putPanel(p: { account: string; objectId: number; keySealed: string | null; supervisionS: number; dueMs: number; at: string; by: string | null }): Promise<void> {
    return this.unique(async () => {
      const old = await this.one('SELECT account, created_at, link, lost_at FROM panel_accounts WHERE object_id = $1', [p.objectId]);
      await this.exec('DELETE FROM panel_accounts WHERE object_id = $1', [p.objectId]);
      await this.exec(`INSERT INTO panel_accounts (account, object_id, key_sealed, supervision_s, link, last_seen_at, due_ms, lost_at, created_at, updated_at, updated_by)
        VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10)`,
      [p.account, p.objectId, p.keySealed, p.supervisionS, old?.link ?? 'up', p.dueMs, old?.lost_at ?? null,
        old && old.account === p.account ? old.created_at : p.at, p.at, p.by]);
    });
  }

  deletePanel(objectId: number): Promise<boolean> {
    return this.write(async () => (await this.exec('DELETE FROM panel_accounts WHERE object_id = $1', [objectId])) === 1);
  }

  getPanel(account: string): Promise<PanelRow | undefined> {
    return this.read(async () => {
      const r = await this.one(`${PANEL_SELECT} WHERE p.account = $1`, [account]);
      return r ? panelFrom(r) : undefined;
    });
  }

  panelOfObject(objectId: number): Promise<PanelRow | undefined> {
    return this.read(async () => {
      const r = await this.one(`${PANEL_SELECT} WHERE p.object_id = $1`, [objectId]);
      return r ? panelFrom(r) : undefined;
    });
  }

  listPanels(): Promise<PanelRow[]> {
    return this.read(async () => (await this.rows(`${PANEL_SELECT} ORDER BY p.account`)).map(panelFrom));
  }

  panelSeen(account: string, at: string, atMs: number): Promise<PanelRow | undefined> {
    return this.write(async () => {
      await this.exec(`UPDATE panel_accounts SET last_seen_at = $1, due_ms = greatest(due_ms, $2::bigint + supervision_s * 1000)
        WHERE account = $3 AND (last_seen_at IS NULL OR last_seen_at < $1)`, [at, atMs, account]);
      const r = await this.one(`${PANEL_SELECT} WHERE p.account = $1`, [account]);
      return r ? panelFrom(r) : undefined;
    });
  }

  duePanels(atMs: number, limit: number): Promise<PanelRow[]> {
    return this.read(async () => (await this.rows(`${PANEL_SELECT} WHERE p.link = 'up' AND p.due_ms <= $1 ORDER BY p.due_ms LIMIT $2`, [atMs, limit])).map(panelFrom));
  }

  markPanelLost(account: string, atMs: number, at: string): Promise<boolean> {
    return this.write(async () => (await this.exec("UPDATE panel_accounts SET link = 'lost', lost_at = $1 WHERE account = $2 AND link = 'up' AND due_ms <= $3", [at, account, atMs])) === 1);
  }

  setPanelFrame(account: string, frame: string, atMs: number): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE panel_accounts SET last_frame = $1, last_frame_ms = $2 WHERE account = $3', [frame, atMs, account]);
    });
  }

  markPanelUp(account: string): Promise<boolean> {
    return this.write(async () => (await this.exec("UPDATE panel_accounts SET link = 'up', lost_at = NULL WHERE account = $1 AND link = 'lost'", [account])) === 1);
  }

  insertHold(h: HoldInsert): Promise<number> {
    return this.unique(async () => Number((await this.one(`INSERT INTO holds (client_id, number_id, object_id, action, channel, challenge_id, reasons, state, requested_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    [h.clientId, h.numberId, h.objectId, h.action, h.channel, h.challengeId, h.reasons, h.state, h.requestedAt, h.expiresAt]))?.id));
  }

  getHold(id: number): Promise<HoldRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM holds WHERE id = $1', [id]);
      return r ? holdFrom(r) : undefined;
    });
  }

  holdForChallenge(challengeId: string): Promise<HoldRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM holds WHERE challenge_id = $1', [challengeId]);
      return r ? holdFrom(r) : undefined;
    });
  }

  listHolds(f: { open?: boolean; clientId?: number; limit: number }): Promise<HoldRow[]> {
    return this.read(async () => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.open) where.push("state IN ('awaiting-code', 'pending', 'calling')");
      if (f.clientId !== undefined) {
        args.push(f.clientId);
        where.push(`client_id = $${args.length}`);
      }
      args.push(f.limit);
      return (await this.rows(`SELECT * FROM holds ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`, args)).map(holdFrom);
    });
  }

  moveHold(id: number, from: HoldState[], state: HoldState, patch: Partial<Pick<HoldRow, 'expiresAt' | 'decidedAt' | 'decidedBy' | 'result'>> = {}): Promise<boolean> {
    return this.write(async () => (await this.exec(`UPDATE holds SET state = $1, expires_at = coalesce($2, expires_at), decided_at = coalesce($3, decided_at),
      decided_by = coalesce($4, decided_by), result = coalesce($5, result)
      WHERE id = $6 AND state = ANY($7::text[])`,
    [state, patch.expiresAt ?? null, patch.decidedAt ?? null, patch.decidedBy ?? null, patch.result ?? null, id, from])) === 1);
  }

  claimHolds(holder: string, at: string, leaseUntil: string, skip: number[]): Promise<HoldRow[]> {
    return this.write(async () => (await this.rows(`UPDATE holds SET state = 'calling', holder = $1, lease_until = $2
      WHERE id IN (SELECT id FROM holds
        WHERE state = 'pending'
           OR (state = 'calling' AND (lease_until IS NULL OR lease_until <= $3))
           OR (state = 'calling' AND holder = $1 AND NOT (id = ANY($4::bigint[])))
        FOR UPDATE SKIP LOCKED)
      RETURNING *`, [holder, leaseUntil, at, skip])).map(holdFrom).sort((a, b) => a.id - b.id));
  }

  renewHolds(ids: number[], holder: string, leaseUntil: string): Promise<number[]> {
    if (ids.length === 0) return this.read(async () => []);
    return this.write(async () => (await this.rows(`UPDATE holds SET lease_until = $1
      WHERE id = ANY($2::bigint[]) AND state = 'calling' AND holder = $3 RETURNING id`, [leaseUntil, ids, holder]))
      .map((r) => Number(r.id)).sort((a, b) => ids.indexOf(a) - ids.indexOf(b)));
  }

  countHoldCall(id: number): Promise<void> {
    return this.write(async () => {
      await this.exec('UPDATE holds SET calls = calls + 1 WHERE id = $1', [id]);
    });
  }

  dueHolds(at: string, limit: number): Promise<HoldRow[]> {
    return this.read(async () => (await this.rows(`SELECT * FROM holds WHERE state IN ('awaiting-code', 'pending', 'calling') AND expires_at <= $1
      ORDER BY id LIMIT $2`, [at, limit])).map(holdFrom));
  }

  // ---------------------------------------------------------------- schedules

  getSchedule(objectId: number): Promise<ScheduleRow | undefined> {
    return this.read(async () => {
      const heads = await this.rows('SELECT * FROM object_schedules WHERE object_id = $1', [objectId]);
      if (heads.length === 0) return undefined;
      return schedulesFrom(heads,
        await this.rows('SELECT * FROM schedule_days WHERE object_id = $1 ORDER BY weekday', [objectId]),
        await this.rows('SELECT * FROM schedule_exceptions WHERE object_id = $1 ORDER BY date', [objectId]))[0];
    });
  }

  listSchedules(exceptionsFrom: string): Promise<ScheduleRow[]> {
    return this.read(async () => schedulesFrom(
      await this.rows('SELECT * FROM object_schedules ORDER BY object_id'),
      await this.rows('SELECT * FROM schedule_days ORDER BY object_id, weekday'),
      await this.rows('SELECT * FROM schedule_exceptions WHERE date >= $1 ORDER BY object_id, date', [exceptionsFrom]),
    ));
  }

  putSchedule(s: { objectId: number; days: DayRule[]; notifyOffSchedule: boolean; at: string; by: string | null }): Promise<void> {
    return this.write(async () => {
      await this.exec(`INSERT INTO object_schedules (object_id, notify_off_schedule, updated_at, updated_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (object_id) DO UPDATE SET notify_off_schedule = EXCLUDED.notify_off_schedule, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
      [s.objectId, s.notifyOffSchedule ? 1 : 0, s.at, s.by]);
      await this.exec('DELETE FROM schedule_days WHERE object_id = $1', [s.objectId]);
      for (const d of s.days) {
        await this.exec('INSERT INTO schedule_days (object_id, weekday, arm_by, open_from) VALUES ($1, $2, $3, $4)', [s.objectId, d.weekday, d.armBy, d.openFrom]);
      }
    });
  }

  deleteSchedule(objectId: number): Promise<boolean> {
    return this.write(async () => {
      await this.exec('DELETE FROM schedule_days WHERE object_id = $1', [objectId]);
      await this.exec('DELETE FROM schedule_exceptions WHERE object_id = $1', [objectId]);
      return (await this.exec('DELETE FROM object_schedules WHERE object_id = $1', [objectId])) === 1;
    });
  }

  putScheduleException(objectId: number, e: ScheduleException): Promise<void> {
    return this.write(async () => {
      await this.exec(`INSERT INTO schedule_exceptions (object_id, date, closed, arm_by, open_from, note) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (object_id, date) DO UPDATE SET closed = EXCLUDED.closed, arm_by = EXCLUDED.arm_by, open_from = EXCLUDED.open_from, note = EXCLUDED.note`,
      [objectId, e.date, e.closed ? 1 : 0, e.armBy, e.openFrom, e.note]);
    });
  }

  deleteScheduleException(objectId: number, date: string): Promise<boolean> {
    return this.write(async () => (await this.exec('DELETE FROM schedule_exceptions WHERE object_id = $1 AND date = $2', [objectId, date])) === 1);
  }

  scheduleNotice(objectId: number, date: string, kind: string, at: string): Promise<boolean> {
    return this.write(async () => (await this.exec(`INSERT INTO schedule_notices (object_id, date, kind, at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (object_id, date, kind) DO NOTHING`, [objectId, date, kind, at])) === 1);
  }

  // ---- duress code

  getDuress(clientId: number): Promise<DuressRow | undefined> {
    return this.read(async () => {
      const r = await this.one('SELECT * FROM duress_codes WHERE client_id = $1', [clientId]);
      return r && duressFrom(r);
    });
  }

  setDuress(clientId: number, codeHash: Buffer | null, at: string, by: string): Promise<void> {
    return this.write(async () => {
      await this.exec(`INSERT INTO duress_codes (client_id, code_hash, set_at, cleared_at, changed_by) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (client_id) DO UPDATE SET code_hash = excluded.code_hash, changed_by = excluded.changed_by,
          set_at = COALESCE(excluded.set_at, duress_codes.set_at), cleared_at = COALESCE(excluded.cleared_at, duress_codes.cleared_at)`,
      [clientId, codeHash, codeHash ? at : null, codeHash ? null : at, by]);
    });
  }

  // ---- call history

  insertCall(c: CallInsert): Promise<void> {
    return this.unique(async () => {
      await this.exec(`INSERT INTO calls (id, direction, purpose, phone, client_id, object_code, started_at, event_id, round)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [c.id, c.direction, c.purpose, c.phone, c.clientId, c.objectCode, c.startedAt, c.eventId, c.round]);
    });
  }

  updateCall(id: string, u: CallUpdate): Promise<boolean> {
    return this.write(async () => {
      const row = await this.one('SELECT actions FROM calls WHERE id = $1 FOR UPDATE', [id]);
      if (!row) return false;
      const actions = u.actions?.length ? appendedActions(row.actions, u.actions) : (row.actions as string);
      await this.exec(`UPDATE calls SET answered_at = COALESCE(answered_at, $1), client_id = COALESCE($2::bigint, client_id), object_code = COALESCE($3, object_code),
        phone = COALESCE($4, phone), outcome = CASE WHEN ended_at IS NULL THEN COALESCE($6, outcome) ELSE outcome END,
        ended_at = COALESCE(ended_at, $5), actions = $7 WHERE id = $8`, [...callUpdateValues(u), actions, id]);
      return true;
    });
  }

  listCalls(f: CallFilter): Promise<CallRow[]> {
    return this.read(async () => {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (column: string, op: string, v: string | number | undefined): void => {
        if (v === undefined) return;
        args.push(v);
        where.push(`${column} ${op} $${args.length}`);
      };
      add('object_code', '=', f.objectCode);
      add('phone', '=', f.phone);
      add('purpose', '=', f.purpose);
      add('started_at', '>=', f.from);
      add('started_at', '<', f.until);
      add('seq', '<', f.before);
      args.push(f.limit);
      const rows = await this.rows(`SELECT * FROM calls${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${args.length}`, args);
      return rows.map(callFrom);
    });
  }
}
