import type { LiveBus, Outbox, Store, StoreAdmin } from '../core/ports.ts';
import { PgBus } from './pg-bus.ts';
import { loadPgMigrations, PgDatabase } from './pg-db.ts';
import type { PgOptions } from './pg-db.ts';
import { PgAdmin } from './pg-admin.ts';
import { PgOutbox } from './pg-outbox.ts';
import { PgStore } from './pg-store.ts';

export type { PgOptions } from './pg-db.ts';

/**
 * Opens a PostgreSQL database (a postgres:// or postgresql:// URL), creating or migrating its
 * schema, and returns its ports over one pool; `admin.close()` ends the pool and the listener.
 * Rejects when the server cannot be reached (within a few seconds) or the schema cannot be
 * brought up to date.
 */
export async function openPostgres(url: string, opts: PgOptions = {}): Promise<{ store: Store; outbox: Outbox; admin: StoreAdmin; bus: LiveBus }> {
  const migrations = loadPgMigrations();
  const db = new PgDatabase(url, opts);
  await db.open(migrations);
  const latest = migrations.reduce((v, m) => Math.max(v, m.version), 0);
  return { store: new PgStore(db), outbox: new PgOutbox(db), admin: new PgAdmin(db, latest), bus: new PgBus(db) };
}
