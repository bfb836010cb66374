import type { Config } from '../config.ts';
import type { LiveBus, Outbox, Store, StoreAdmin } from '../core/ports.ts';
import { openDb } from './db.ts';
import { localBus } from './local-bus.ts';
import { OutboxStore } from './outbox-store.ts';
import { restoreSqlite, SqliteAdmin } from './sqlite-admin.ts';
import type { RestoreResult } from './sqlite-admin.ts';
import { lockFor } from './sqlite-lock.ts';
import { SqliteStore } from './sqlite-store.ts';
import { copySqliteToPostgres } from './copy.ts';
import type { CopyResult } from './copy.ts';

export { CopyRefused } from './copy.ts';
export type { CopyResult } from './copy.ts';

export type { RestoreResult } from './sqlite-admin.ts';

/**
 * The store behind its ports: the core's, the SMS dispatcher's and the operations side's, and
 * the bus that carries live events to the other instances on the same database.
 */
export interface OpenStore {
  store: Store;
  outbox: Outbox;
  admin: StoreAdmin;
  bus: LiveBus;
}

/** What opening the store reads of the configuration; `db` tunes a PostgreSQL pool (defaults otherwise). */
export type StoreConfig = Pick<Config, 'dbPath'> & { db?: Partial<Pick<Config['db'], 'poolSize' | 'statementTimeoutMs'>> };

/** A `ZHEDEL_DB` that names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(db);
}

/**
 * Opens the database named by `ZHEDEL_DB` (migrating it to the latest schema) and returns its
 * ports. The only place that picks an engine: a postgres:// or postgresql:// URL opens
 * PostgreSQL (node-postgres, one pool; loaded only then), anything else is a SQLite file
 * (better-sqlite3; all ports share one connection and its transaction lock). `admin.close()`
 * closes either.
 * SQLite's live-event bus reaches the instances in this process on the same file; PostgreSQL's
 * goes through LISTEN/NOTIFY to every instance on the database (`bus.close()` ends either).
 */
export async function openStore(config: StoreConfig): Promise<OpenStore> {
  if (isPostgresUrl(config.dbPath)) {
    const { openPostgres } = await import('./pg-open.ts');
    return openPostgres(config.dbPath, {
      ...(config.db?.poolSize !== undefined ? { poolSize: config.db.poolSize } : {}),
      ...(config.db?.statementTimeoutMs !== undefined ? { statementTimeoutMs: config.db.statementTimeoutMs } : {}),
    });
  }
  const db = openDb(config.dbPath);
  // one connection, one lock: a port's work never runs inside another's transaction
  const lock = lockFor(db);
  return {
    store: new SqliteStore(db, lock), outbox: new OutboxStore(db, lock), admin: new SqliteAdmin(db, lock),
    bus: localBus(db.memory ? null : db.name),
  };
}

/**
 * Replaces the database with a copy made by `admin.backup` (the command line's `restore`); no
 * service may be using the database. A copy that fails its integrity check changes nothing.
 * SQLite only: a PostgreSQL database is restored with the server's tools, from the `pg_dump`
 * archive that `backup` wrote.
 */
export function restoreStore(config: Pick<Config, 'dbPath'>, from: string): Promise<RestoreResult> {
  if (isPostgresUrl(config.dbPath)) {
    return Promise.reject(new Error(`restore does not replace a PostgreSQL database: stop the services, then restore the archive with the server's tools, e.g. pg_restore --clean --if-exists --no-owner --dbname=<database URL> ${from} (backup writes pg_dump's custom format)`));
  }
  return restoreSqlite(config.dbPath, from);
}

/**
 * `zhedel migrate`: copies the SQLite database at `from` (brought to the current schema
 * first) into the PostgreSQL database at `to` (created schema if new). See copy.ts.
 */
export async function copyToPostgres(from: string, to: string): Promise<CopyResult> {
  const target = await openStore({ dbPath: to });
  await target.admin.close();
  const src = openDb(from);
  try {
    return await copySqliteToPostgres(src, to);
  } finally {
    src.close();
  }
}
