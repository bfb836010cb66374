import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMigrations } from './migrations-files.ts';
import type { Migration } from './migrations-files.ts';

export type Db = Database.Database;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface OpenOptions {
  /** Skip migrations (a tool that must not change the schema, e.g. verifying a backup). */
  migrate?: boolean;
  readonly?: boolean;
}

/** The mode of the folders that hold databases and backups: the service's user only. */
export const PRIVATE_DIR_MODE = 0o700;
/** The mode of a database, its -wal and -shm, and of every backup. */
export const PRIVATE_FILE_MODE = 0o600;

/** Creates a folder (and its parents) readable by the service's user only. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Makes sure `path` exists with mode 0600 (an empty file is a valid new database or backup
 * target); SQLite gives the -wal and -shm files the mode of their database.
 */
export function privateFile(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  chmodSync(path, PRIVATE_FILE_MODE);
}

/**
 * Opens the database with the pragmas every process must use: WAL so readers never block the
 * writer, synchronous=FULL so a commit survives power loss (arm/disarm, codes and the journal
 * must), a busy timeout so the service and the CLI can write the same file, foreign keys on.
 * The database, its -wal and -shm are 0600; a folder created for it is 0700.
 */
export function openDb(path: string, opts: OpenOptions = {}): Db {
  const readonly = opts.readonly ?? false;
  if (path !== ':memory:' && !readonly) {
    privateDir(dirname(path));
    privateFile(path);
    for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) chmodSync(path + suffix, PRIVATE_FILE_MODE);
  }
  const db = new Database(path, { readonly });
  db.pragma('busy_timeout = 10000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  if (opts.migrate !== false && !opts.readonly) migrate(db);
  return db;
}

export type { Migration } from './migrations-files.ts';

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readMigrations(dir);
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
