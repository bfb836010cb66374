import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Db = Database.Database;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface OpenOptions {
  /** Skip migrations (a tool that must not change the schema, e.g. verifying a backup). */
  migrate?: boolean;
  readonly?: boolean;
}

/**
 * Opens the database with the pragmas every process must use: WAL so readers never block the
 * writer, synchronous=FULL so a commit survives power loss (arm/disarm, codes and the journal
 * must), a busy timeout so the service and the CLI can write the same file, foreign keys on.
 */
export function openDb(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: opts.readonly ?? false });
  db.pragma('busy_timeout = 10000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  if (opts.migrate !== false && !opts.readonly) migrate(db);
  return db;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}-[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

/**
 * Applies each pending migration in its own IMMEDIATE transaction together with the new
 * user_version, so a crash leaves the schema at a whole version. Safe when two processes
 * start at once: the second waits for the lock and then sees the new version.
 */
export function migrate(db: Db, migrations = loadMigrations()): number {
  let applied = 0;
  for (const m of migrations) {
    const step = db.transaction(() => {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current >= m.version) return false;
      if (current !== m.version - 1) {
        throw new Error(`database is at schema version ${current}, cannot apply ${m.name}`);
      }
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    if (step.immediate()) applied++;
  }
  return applied;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function integrityCheck(db: Db): string {
  const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  return rows.map((r) => r.integrity_check).join('; ');
}
