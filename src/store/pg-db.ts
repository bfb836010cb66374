import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DuplicateKeyError, StorageUnavailableError } from '../core/ports.ts';
import { readMigrations } from './migrations-files.ts';
import type { Migration } from './migrations-files.ts';

/**
 * The PostgreSQL engine's connection handling: one pool per opened store, its transactions,
 * its migrations and the listener that tells it about other processes' commits.
 *
 * Transactions and locking (what gives the port's guarantees):
 *  - A write transaction (`Store.transaction`, housekeeping) runs at READ COMMITTED and first
 *    takes the database's write lock, a transaction-level advisory lock (`WRITE_LOCK`). Write
 *    transactions of every process are therefore serial, exactly as SQLite's BEGIN IMMEDIATE
 *    makes them: each one sees everything committed before it, so the read-modify-write the core
 *    does inside a transaction (a balance, a code's attempts, a ledger reference) needs no retry,
 *    and `fn` never runs twice. Within one process they also take turns before asking the
 *    server, so a burst of writes holds one pooled connection, not all of them.
 *  - A read (`Store.read`) is a REPEATABLE READ, READ ONLY transaction: one snapshot, no lock,
 *    concurrent with everything; a write through it is refused.
 *  - The outbox's methods do not take the write lock: they lock the rows they change (a claim
 *    skips the rows another claimer holds), run at READ COMMITTED, and are retried when the
 *    server reports a deadlock or a serialization failure, as each is a self-contained unit.
 *  - The journal's chain additionally takes its own advisory lock before reading the head.
 *  - Transactions do not nest: one started from inside another's work rejects at once.
 */

/** The advisory lock space of this service (two-key form: namespace, lock). */
const LOCK_SPACE = 0x5a48; // "ZH"
export const WRITE_LOCK = 1;
export const JOURNAL_LOCK = 2;
const MIGRATE_LOCK = 3;

/** The channel on which every write transaction announces its commit. */
export const CHANGE_CHANNEL = 'zhedel_change';
/** The channel of live events between instances (see pg-bus.ts). */
export const LIVE_CHANNEL = 'zhedel_live';

/** How long connecting (or waiting for a pooled connection) may take before a call rejects. */
const CONNECT_TIMEOUT_MS = 3_000;
/** How long a trivial query (ping, the listener's round trip) may take. */
export const QUICK_QUERY_MS = 2_000;

/** `SELECT 1` answered within `QUICK_QUERY_MS`, or rejected (node-postgres's per-query read timeout). */
export const PING_QUERY: pg.QueryConfig = Object.assign({ text: 'SELECT 1' }, { query_timeout: QUICK_QUERY_MS });

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations-pg');

export function lockSql(lock: number): string {
  return `SELECT pg_advisory_xact_lock(${LOCK_SPACE}, ${lock})`;
}

/** bigint (int8) columns and COUNT(*) as JavaScript numbers: ids, money and counts stay far below 2^53. */
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export interface PgOptions {
  /** Connections in the pool (ZHEDEL_DB_POOL). */
  poolSize?: number;
  /** The server cancels a statement running longer (ZHEDEL_DB_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
}

/**
 * The connection settings: everything in the URL (user, password, host, port, database and
 * its query parameters, e.g. `sslmode`) is passed to node-postgres as its connection string and
 * wins over these defaults. node-postgres 8 reads `sslmode=disable` as no TLS and
 * `sslmode=require` (also `prefer`, `verify-ca`) like `verify-full`: TLS with the server's
 * certificate and name checked against the system's CAs (it warns once that libpq's weaker
 * meaning comes in its next major version); `sslmode=no-verify` encrypts without checking, and
 * `uselibpqcompat=true` gives libpq's meanings. `sslrootcert=<file>` names a private CA.
 */
export function poolConfig(url: string, o: PgOptions): pg.PoolConfig {
  const statementTimeout = o.statementTimeoutMs ?? 5_000;
  return {
    connectionString: url,
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'zhedel',
    statement_timeout: statementTimeout,
    // a process that stalls inside a transaction must not hold the write lock for ever
    idle_in_transaction_session_timeout: Math.max(10_000, 2 * statementTimeout),
    // the client gives up on an answer that never comes (a server gone without closing the connection)
    query_timeout: statementTimeout + 2_000,
    types: TYPES,
  };
}

export function listenerConfig(url: string): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'zhedel-changes',
    types: TYPES,
  };
}

/** An error of the server (it carries an SQLSTATE); anything else may have left the connection unusable. */
function isServerError(e: unknown): boolean {
  return e instanceof pg.DatabaseError;
}

/** SQLSTATEs that mean the server cannot do the work now (connection lost, shutting down, starting, overloaded, too slow). */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '25006']);
/** Socket errors of a server that is away. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * A failure that comes from the server being away or too slow, as the port's
 * `StorageUnavailableError`; null for any other error (a constraint, a bug, the caller's own).
 */
export function unavailable(e: unknown): StorageUnavailableError | null {
  if (e instanceof StorageUnavailableError) return e;
  if (e instanceof pg.DatabaseError) {
    const code = e.code ?? '';
    return code.startsWith('08') || UNAVAILABLE_STATES.has(code) ? new StorageUnavailableError(e.message) : null;
  }
  if (!(e instanceof Error)) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return new StorageUnavailableError(code);
  if (isReadTimeout(e) || /^(timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error)/i.test(e.message)) {
    return new StorageUnavailableError(e.message);
  }
  return null;
}

/** node-postgres gave up waiting for an answer (`query_timeout`): the connection is still busy with that query. */
export function isReadTimeout(e: unknown): boolean {
  return e instanceof Error && e.message === 'Query read timeout';
}

/** SQLSTATEs after which a self-contained unit of work is simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * A unique or primary key violation (23505) as the port's `DuplicateKeyError`, its key named as
 * SQLite names it: `table.column`, or `table.a, table.b` for a key of several columns.
 */
export function duplicateKeyOf(e: unknown): DuplicateKeyError | null {
  if (!(e instanceof pg.DatabaseError) || e.code !== '23505') return null;
  const columns = /^Key \((.+?)\)=/.exec(e.detail ?? '')?.[1];
  if (columns && e.table) return new DuplicateKeyError(columns.split(', ').map((c) => `${e.table}.${c}`).join(', '));
  return new DuplicateKeyError(e.constraint ?? e.table ?? 'key');
}

export type { Migration } from './migrations-files.ts';

export function loadPgMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readMigrations(dir);
}

/** Which store's work the running code is part of: a transaction asked for inside it would wait for itself. */
const inside = new AsyncLocalStorage<PgDatabase>();

const nested = (): Error => new Error('a transaction was started inside another transaction of the same database');

/**
 * One opened PostgreSQL database: its pool, the write lock's turn in this process, the work
 * under way (for `close`) and the listener of other processes' commits.
 */
export class PgDatabase {
  readonly pool: pg.Pool;
  /** This opened store's name in change notifications (its own are not counted). */
  readonly instance = randomBytes(8).toString('hex');
  readonly changes: ChangeListener;
  private writeTail: Promise<unknown> = Promise.resolve();
  private readonly underway = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;

  constructor(readonly url: string, opts: PgOptions = {}) {
    this.pool = new pg.Pool(poolConfig(url, opts));
    // An idle connection lost (a server restart, a network cut) is dropped by the pool, which
    // connects anew on the next call; the error must not end the process.
    this.pool.on('error', () => undefined);
    this.changes = new ChangeListener(url, this.instance);
  }

  /** Creates the schema or brings it up to date, then starts listening for other processes' commits. */
  async open(migrations = loadPgMigrations()): Promise<void> {
    try {
      await migratePg(this.pool, migrations);
      await this.changes.start();
    } catch (e) {
      await this.changes.close();
      await this.pool.end().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Runs one port call: refused at once inside another transaction's work (it would wait for
   * itself), counted as under way until it settles (`close` waits for it).
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.isInside()) return Promise.reject(nested());
    if (this.closing) return Promise.reject(new Error('the database is closed'));
    const p = inside.run(this, fn).catch((e: unknown) => {
      throw unavailable(e) ?? e;
    });
    this.underway.add(p);
    void p.then(() => this.underway.delete(p), () => this.underway.delete(p));
    return p;
  }

  /** Whether the running code is the work of a call on this database (through any store opened on it). */
  private isInside(): boolean {
    return inside.getStore()?.url === this.url;
  }

  /** `fn` once the write transactions asked for before it in this process ended. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.writeTail.then(fn);
    this.writeTail = p.catch(() => undefined);
    return p;
  }

  /**
   * A pooled connection for `fn`, given back afterwards. `fn` calls `broken` when the
   * connection may no longer be sound (it died, or did not answer); such a connection is
   * discarded instead of reused.
   */
  async withClient<T>(fn: (c: pg.PoolClient, broken: (e: unknown) => void) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failure: Error | undefined;
    const broken = (e: unknown): void => {
      failure ??= e instanceof Error ? e : new Error(String(e));
    };
    // a checked-out connection that dies would otherwise raise an unhandled 'error'
    client.on('error', broken);
    try {
      return await fn(client, broken);
    } finally {
      client.off('error', broken);
      client.release(failure);
    }
  }

  /**
   * A transaction on one pooled connection: `begin`, `fn`, COMMIT; ROLLBACK when fn rejects.
   * `commitWith` (e.g. a notification) runs just before COMMIT in the same round trip. A COMMIT
   * that the server answers with ROLLBACK (the transaction had failed) rejects. A connection
   * that cannot even roll back, or whose COMMIT got no answer, is not reused.
   */
  transaction<T>(begin: string, fn: (c: pg.PoolClient) => Promise<T>, commitWith?: () => string | null): Promise<T> {
    return this.withClient(async (c, broken) => {
      let result: T;
      try {
        await c.query(begin);
        result = await fn(c);
      } catch (e) {
        if (isReadTimeout(e) || !(await rollback(c))) broken(e);
        throw e;
      }
      const before = commitWith?.() ?? null;
      let res: pg.QueryResult | pg.QueryResult[];
      try {
        res = await c.query(before ? `${before}; COMMIT` : 'COMMIT');
      } catch (e) {
        if (!isServerError(e) || isReadTimeout(e) || !(await rollback(c))) broken(e);
        throw e;
      }
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      if (last?.command === 'ROLLBACK') throw new Error('the transaction failed earlier and was rolled back');
      return result;
    });
  }

  /** A write transaction: its turn in this process, then the database's write lock (see above). */
  writeTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>, commitWith?: () => string | null): Promise<T> {
    return this.inTurn(() => this.transaction(`BEGIN ISOLATION LEVEL READ COMMITTED; ${lockSql(WRITE_LOCK)}`, fn, commitWith));
  }

  /** A read-only snapshot: REPEATABLE READ, READ ONLY. */
  readTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY', fn);
  }

  /**
   * A self-contained unit at READ COMMITTED that locks the rows it changes (the outbox's
   * methods); run again (up to three times) when the server broke a deadlock or a
   * serialization conflict by failing it.
   */
  async rowLockedTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction('BEGIN ISOLATION LEVEL READ COMMITTED', fn);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (attempt >= 3 || !isServerError(e) || typeof code !== 'string' || !RETRYABLE.has(code)) throw e;
      }
    }
  }

  /** The statement that announces this store's commit to the other processes. */
  notifySql(): string {
    return `SELECT pg_notify('${CHANGE_CHANNEL}', '${this.instance}')`;
  }

  /** Waits for the work under way, then ends the listener and the pool; later calls do nothing. */
  close(): Promise<void> {
    if (this.isInside()) return Promise.reject(nested());
    this.closing ??= (async () => {
      while (this.underway.size > 0) await Promise.allSettled([...this.underway]);
      await this.changes.close();
      await this.pool.end();
    })();
    return this.closing;
  }
}

/** Whether the connection answered ROLLBACK (when it cannot, the server ends the transaction as the connection goes). */
async function rollback(c: pg.PoolClient): Promise<boolean> {
  try {
    await c.query('ROLLBACK');
    return true;
  } catch {
    return false;
  }
}

/**
 * Applies each pending migration in its own transaction together with its row in
 * `schema_migrations`, under an advisory lock: when several processes start at once on a new
 * database, one migrates and the others wait, then find the schema at its version.
 */
export async function migratePg(pool: pg.Pool, migrations: Migration[]): Promise<number> {
  let applied = 0;
  for (const m of migrations) {
    const client = await pool.connect();
    let failure: Error | undefined;
    const broken = (e: unknown): void => {
      failure ??= e instanceof Error ? e : new Error(String(e));
    };
    client.on('error', broken);
    try {
      try {
        // a migration may take long (and waits for another process's): no statement timeout here
        await client.query(`BEGIN; SET LOCAL statement_timeout = 0; ${lockSql(MIGRATE_LOCK)}`);
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        const current = (await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations')).rows[0]!.v;
        if (current < m.version) {
          if (current !== m.version - 1) throw new Error(`database is at schema version ${current}, cannot apply ${m.name}`);
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          applied++;
        }
        await client.query('COMMIT');
      } catch (e) {
        if (isReadTimeout(e) || !(await rollback(client))) broken(e);
        throw e;
      }
    } finally {
      client.off('error', broken);
      client.release(failure);
    }
  }
  return applied;
}

/**
 * Counts commits of other processes: every write transaction ends with a notification naming
 * its store (sent by the server only when the transaction commits), and this dedicated
 * connection listens for them. After a lost connection it reconnects by itself, and counts one
 * change, as some may have been missed meanwhile.
 */
export class ChangeListener {
  private client: pg.Client | null = null;
  private count = 0;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private delayMs = 250;
  private tail: Promise<unknown> = Promise.resolve();

  /** Told every live event published on the database (by any instance, this one too). */
  onLive: ((payload: string) => void) | null = null;

  constructor(private readonly url: string, private readonly instance: string) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const c = new pg.Client(listenerConfig(this.url));
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    c.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL && n.payload !== this.instance) this.count++;
      else if (n.channel === LIVE_CHANNEL && n.payload !== undefined) this.onLive?.(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}; LISTEN ${LIVE_CHANNEL}`);
    } catch (e) {
      void c.end().catch(() => undefined);
      throw e;
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
  }

  private lost(c: pg.Client): void {
    if (this.client !== c) return;
    this.client = null;
    void c.end().catch(() => undefined);
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().then(() => {
        this.delayMs = 250;
        this.count++; // changes made while we were away were not heard
      }, () => {
        this.delayMs = Math.min(this.delayMs * 2, 5_000);
        this.reconnectLater();
      });
    }, this.delayMs);
    this.timer.unref();
  }

  /**
   * The count of other processes' commits heard so far. A round trip on the listening
   * connection first: the server sends a commit's notification before it answers the
   * committer, so every commit that finished before this call is counted. Rejects while the
   * connection is lost (it is being re-established).
   */
  async marker(): Promise<number> {
    const c = this.client;
    if (!c) throw new Error('the database cannot be reached (listening for changes again)');
    // one query at a time on this connection
    const p = this.tail.then(() => c.query(PING_QUERY));
    this.tail = p.catch(() => undefined);
    try {
      await p;
    } catch (e) {
      this.lost(c);
      throw e;
    }
    return this.count;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
