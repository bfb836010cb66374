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

/**
 * Opens the database named by `ZHEDEL_DB` (migrating it to the latest schema) and returns its
 * ports. The only place that picks an engine: today SQLite (better-sqlite3) on one file; all
 * ports share one connection and its transaction lock, closed by `admin.close()`. SQLite's
 * live-event bus reaches the instances in this process on the same file (`bus.close()` ends it).
 */
export function openStore(config: Pick<Config, 'dbPath'>): OpenStore {
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
 */
export function restoreStore(config: Pick<Config, 'dbPath'>, from: string): Promise<RestoreResult> {
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
