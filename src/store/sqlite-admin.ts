import { existsSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AbandonedJob, HousekeepingFigures, StoreAdmin, StoreFigures } from '../core/ports.ts';
import { integrityCheck, openDb, privateDir, privateFile, schemaVersion } from './db.ts';
import type { Db } from './db.ts';
import { lockFor } from './sqlite-lock.ts';
import type { SqliteLock } from './sqlite-lock.ts';

const DAY_MS = 86_400_000;

/** Backs `db` up into `to` (0600, its folder 0700); a failed copy leaves no file behind. */
async function backupInto(db: Db, to: string): Promise<void> {
  try {
    // the copy holds what the database holds: 0600 from the start
    privateDir(dirname(to));
    privateFile(to);
    await db.backup(to);
  } catch (e) {
    if (existsSync(to)) unlinkSync(to);
    throw e;
  }
}

/** Opens a copy without changing it and runs SQLite's integrity check on it. */
function integrityOf(path: string, readonly = false): string {
  const copy = openDb(path, { migrate: false, readonly });
  try {
    return integrityCheck(copy);
  } finally {
    copy.close();
  }
}

/**
 * The operations side of the SQLite store, over the service's connection. Each method takes
 * its turn on the file's lock (so it never runs inside another transaction's work), then runs
 * synchronously; a backup copies page by page outside the lock, as SQLite's online backup is
 * consistent while writes go on.
 */
export class SqliteAdmin implements StoreAdmin {
  private readonly lock: SqliteLock;

  /** `lock` is the file's (shared with the store on the same connection). */
  constructor(private readonly db: Db, lock: SqliteLock = lockFor(db)) {
    this.lock = lock;
  }

  housekeeping(at: Date): Promise<HousekeepingFigures> {
    const db = this.db;
    const now = at.toISOString();
    const old = new Date(at.getTime() - 30 * DAY_MS).toISOString();
    const dayAgo = new Date(at.getTime() - DAY_MS).toISOString();
    const tx = db.transaction((): HousekeepingFigures => ({
      codes: db.prepare("UPDATE challenges SET state = 'expired' WHERE state = 'pending' AND expires_at <= ?").run(now).changes,
      sessions: db.prepare('UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND expires_at <= ?').run(now, now).changes,
      oldSessions: db.prepare('DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < ?) OR expires_at < ?').run(old, old).changes,
      staleSms: db.prepare(`UPDATE outbox SET state = 'expired', body = CASE WHEN secret = 1 THEN NULL ELSE body END, body_enc = NULL, done_at = ?, updated_at = ?
        WHERE state = 'queued' AND created_at < ?`).run(now, now, new Date(at.getTime() - 2 * DAY_MS).toISOString()).changes,
      otpSends: db.prepare('DELETE FROM otp_sends WHERE sent_at < ?').run(dayAgo).changes,
      codeFloods: db.prepare('DELETE FROM otp_floods WHERE at < ?').run(dayAgo).changes,
      rateHits: db.prepare('DELETE FROM rate_hits WHERE until <= ?').run(now).changes,
      jobRuns: db.prepare('DELETE FROM job_runs WHERE finished_at IS NOT NULL AND finished_at < ?')
        .run(new Date(at.getTime() - 90 * DAY_MS).toISOString()).changes,
    }));
    return this.lock.run(() => tx.immediate());
  }

  metrics(): StoreFigures {
    const db = this.db;
    const lock = this.lock;
    const read = <T>(fn: () => T): Promise<T> => lock.run(fn);
    const count = (sql: string, ...args: unknown[]): Promise<number> => read(() => (db.prepare(sql).get(...args) as { n: number }).n);
    return {
      outboxByState: () => read(() => Object.fromEntries((db.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as Array<{ state: string; n: number }>).map((r) => [r.state, r.n]))),
      documents: () => count('SELECT COALESCE(MAX(seq), 0) AS n FROM journal'),
      otpSendsLastHour: () => count('SELECT COUNT(*) AS n FROM otp_sends WHERE sent_at > ?', new Date(Date.now() - 3_600_000).toISOString()),
      codeFailures: () => count("SELECT COUNT(*) AS n FROM journal WHERE action = 'confirm' AND outcome = 'refused'"),
      openAlerts: () => count('SELECT COUNT(*) AS n FROM alerts WHERE acknowledged_at IS NULL'),
      duressAlarms: () => count("SELECT COUNT(*) AS n FROM journal WHERE action = 'duress'"),
      objectStatuses: () => read(() => (db.prepare('SELECT code, client_id, status, status_since FROM objects').all() as Array<Record<string, unknown>>)
        .map((r) => ({ code: r.code as string, clientId: r.client_id as number, status: r.status as string, since: r.status_since as string }))),
    };
  }

  ping(): Promise<void> {
    return this.lock.run(() => {
      this.db.prepare('SELECT 1').get();
    });
  }

  /** SQLite's online backup API: consistent while writes go on. */
  async backup(to: string): Promise<{ integrity: string }> {
    await backupInto(this.db, to);
    return { integrity: integrityOf(to) };
  }

  verifyIntegrity(): Promise<string> {
    return this.lock.run(() => integrityCheck(this.db));
  }

  schemaVersion(): Promise<number> {
    return this.lock.run(() => schemaVersion(this.db));
  }

  /** The database's data_version: it moves when another connection commits. */
  changeMarker(): Promise<number> {
    return this.lock.run(() => this.db.pragma('data_version', { simple: true }) as number);
  }

  acquireJob(job: string, slot: string, holder: string, at: Date, leaseUntil: Date): Promise<boolean> {
    const now = at.toISOString();
    return this.lock.run(() => this.db.prepare(`INSERT INTO job_runs (job, slot, holder, started_at, lease_until) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (job, slot) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, attempts = attempts + 1
        WHERE finished_at IS NULL AND lease_until <= ?`)
      .run(job, slot, holder, now, leaseUntil.toISOString(), now).changes === 1);
  }

  renewJob(job: string, slot: string, holder: string, leaseUntil: Date): Promise<boolean> {
    return this.lock.run(() => this.db.prepare('UPDATE job_runs SET lease_until = ? WHERE job = ? AND slot = ? AND holder = ? AND finished_at IS NULL')
      .run(leaseUntil.toISOString(), job, slot, holder).changes === 1);
  }

  finishJob(job: string, slot: string, holder: string, at: Date, outcome: 'done' | 'failed', detail: string | null): Promise<boolean> {
    return this.lock.run(() => this.db.prepare(`UPDATE job_runs SET finished_at = ?, outcome = ?, detail = ?
      WHERE job = ? AND slot = ? AND holder = ? AND finished_at IS NULL`)
      .run(at.toISOString(), outcome, detail === null ? null : detail.slice(0, 500), job, slot, holder).changes === 1);
  }

  abandonedJobs(at: Date, maxAttempts: number): Promise<AbandonedJob[]> {
    return this.lock.run(() => (this.db.prepare(`SELECT job, slot, holder, attempts FROM job_runs
      WHERE finished_at IS NULL AND lease_until <= ? AND attempts < ? ORDER BY slot, job`).all(at.toISOString(), maxAttempts) as AbandonedJob[]));
  }

  /** Closes the connection once the transactions queued before this call ended. */
  close(): Promise<void> {
    return this.lock.run(() => {
      if (this.db.open) this.db.close();
    });
  }
}

export type RestoreResult =
  | { restored: true; kept: string | null }
  | { restored: false; integrity: string };

/**
 * Replaces the database at `dbPath` with the copy at `from`, which must pass its integrity
 * check (else nothing changes). The old database is kept beside the new one
 * (`<dbPath>.before-restore-<ms>`), never overwritten in place. No other process may have
 * the database open meanwhile.
 */
export async function restoreSqlite(dbPath: string, from: string): Promise<RestoreResult> {
  const integrity = integrityOf(from, true);
  if (integrity !== 'ok') return { restored: false, integrity };
  const keep = `${dbPath}.before-restore-${Date.now()}`;
  if (existsSync(dbPath)) {
    const old = openDb(dbPath, { migrate: false });
    privateFile(keep);
    await old.backup(keep);
    old.close();
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(dbPath + suffix)) unlinkSync(dbPath + suffix);
  }
  const src = openDb(from, { migrate: false, readonly: true });
  privateDir(dirname(dbPath));
  privateFile(dbPath);
  await src.backup(dbPath);
  src.close();
  return { restored: true, kept: existsSync(keep) ? keep : null };
}
