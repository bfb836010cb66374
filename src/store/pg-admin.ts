import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AbandonedJob, HousekeepingFigures, StoreAdmin, StoreFigures } from '../core/ports.ts';
import { PING_QUERY } from './pg-db.ts';
import type { PgDatabase } from './pg-db.ts';

const DAY_MS = 86_400_000;

/** The tables of the schema (verifyIntegrity reports any that is missing). */
const TABLES = [
  'clients', 'objects', 'numbers', 'number_objects', 'services', 'subscriptions', 'challenges', 'otp_sends', 'journal', 'outbox',
  'outbox_parts', 'ledger', 'sessions', 'operators', 'monitoring_events', 'alerts', 'tariffs', 'billing_notices',
  'callouts', 'settings', 'otp_floods', 'job_runs', 'rate_hits', 'object_schedules', 'schedule_days', 'schedule_exceptions',
  'schedule_notices', 'calls', 'duress_codes', 'holds',
];
const JOURNAL_GUARDS = ['journal_no_update', 'journal_no_delete', 'journal_no_truncate'];

/**
 * The operations side of the PostgreSQL store. Housekeeping is a write transaction (the
 * database's write lock, as the core's); figures are single statements on the pool.
 */
export class PgAdmin implements StoreAdmin {
  constructor(private readonly db: PgDatabase, private readonly latestVersion: number) {}

  housekeeping(at: Date): Promise<HousekeepingFigures> {
    const now = at.toISOString();
    const old = new Date(at.getTime() - 30 * DAY_MS).toISOString();
    const dayAgo = new Date(at.getTime() - DAY_MS).toISOString();
    const stale = new Date(at.getTime() - 2 * DAY_MS).toISOString();
    let changed = false;
    return this.db.run(() => this.db.writeTransaction(async (c) => {
      const n = async (sql: string, params: unknown[]): Promise<number> => {
        const k = (await c.query(sql, params)).rowCount ?? 0;
        if (k > 0) changed = true;
        return k;
      };
      return {
        codes: await n("UPDATE challenges SET state = 'expired' WHERE state = 'pending' AND expires_at <= $1", [now]),
        sessions: await n('UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND expires_at <= $1', [now]),
        oldSessions: await n('DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $1', [old]),
        staleSms: await n(`UPDATE outbox SET state = 'expired', body = CASE WHEN secret = 1 THEN NULL ELSE body END, body_enc = NULL, done_at = $1, updated_at = $1
          WHERE state = 'queued' AND created_at < $2`, [now, stale]),
        otpSends: await n('DELETE FROM otp_sends WHERE sent_at < $1', [dayAgo]),
        codeFloods: await n('DELETE FROM otp_floods WHERE at < $1', [dayAgo]),
        rateHits: await n('DELETE FROM rate_hits WHERE until <= $1', [now]),
        jobRuns: await n('DELETE FROM job_runs WHERE finished_at IS NOT NULL AND finished_at < $1', [new Date(at.getTime() - 90 * DAY_MS).toISOString()]),
      };
    }, () => (changed ? this.db.notifySql() : null)));
  }

  metrics(): StoreFigures {
    const db = this.db;
    const rows = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> =>
      db.run(async () => (await db.pool.query<R>(sql, params)).rows);
    const count = async (sql: string, ...params: unknown[]): Promise<number> => (await rows<{ n: number }>(sql, params))[0]!.n;
    return {
      outboxByState: async () => Object.fromEntries((await rows<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state')).map((r) => [r.state, r.n])),
      documents: () => count('SELECT COALESCE(MAX(seq), 0) AS n FROM journal'),
      otpSendsLastHour: () => count('SELECT COUNT(*) AS n FROM otp_sends WHERE sent_at > $1', new Date(Date.now() - 3_600_000).toISOString()),
      codeFailures: () => count("SELECT COUNT(*) AS n FROM journal WHERE action = 'confirm' AND outcome = 'refused'"),
      openAlerts: () => count('SELECT COUNT(*) AS n FROM alerts WHERE acknowledged_at IS NULL'),
      duressAlarms: () => count("SELECT COUNT(*) AS n FROM journal WHERE action = 'duress'"),
      objectStatuses: async () => (await rows('SELECT code, client_id, status, status_since FROM objects ORDER BY id'))
        .map((r) => ({ code: r.code as string, clientId: r.client_id as number, status: r.status as string, since: r.status_since as string })),
    };
  }

  /** `SELECT 1`; rejects within a few seconds when the server cannot be reached (connecting and the query are both timed). */
  ping(): Promise<void> {
    return this.db.run(async () => {
      await this.db.pool.query(PING_QUERY);
    });
  }

  /**
   * A consistent online copy made by `pg_dump` (custom format, for `pg_restore`), which must be
   * on PATH, of the server's major version or newer: PostgreSQL copies no database file that a
   * service could take. The file is 0600 from the start (its folder, when created, 0700); a copy
   * that failed leaves no file. The check reads the copy's table of contents back with
   * `pg_restore --list`.
   */
  backup(to: string): Promise<{ integrity: string }> {
    return this.db.run(async () => {
      const { url, env } = libpqTarget(this.db.url);
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      if (!existsSync(to)) closeSync(openSync(to, 'a', 0o600));
      chmodSync(to, 0o600);
      try {
        await runTool('pg_dump', ['--format=custom', '--no-password', `--file=${to}`, `--dbname=${url}`], env);
      } catch (e) {
        if (existsSync(to)) unlinkSync(to);
        throw e;
      }
      try {
        await runTool('pg_restore', ['--list', to], {});
        return { integrity: 'ok' };
      } catch (e) {
        return { integrity: (e as Error).message };
      }
    });
  }

  /**
   * PostgreSQL checks its own pages; this checks what the service relies on: the schema at the
   * version this program knows, every table present, the journal's append-only guards enabled.
   */
  verifyIntegrity(): Promise<string> {
    return this.db.run(async () => {
      const r = (await this.db.pool.query<{ version: number; missing: string[]; guards: string[] }>(`SELECT
          (SELECT COALESCE(MAX(version), 0)::int FROM schema_migrations) AS version,
          ARRAY(SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NULL) AS missing,
          ARRAY(SELECT tgname::text FROM pg_trigger WHERE tgrelid = to_regclass('journal') AND tgenabled <> 'D' AND tgname = ANY($2::text[])) AS guards`,
      [TABLES, JOURNAL_GUARDS])).rows[0]!;
      const problems: string[] = [];
      if (r.version < this.latestVersion) problems.push(`schema at version ${r.version}, this program needs ${this.latestVersion}`);
      if (r.missing.length > 0) problems.push(`missing tables: ${r.missing.join(', ')}`);
      const off = JOURNAL_GUARDS.filter((g) => !r.guards.includes(g));
      if (off.length > 0) problems.push(`journal guards missing or disabled: ${off.join(', ')}`);
      return problems.length ? problems.join('; ') : 'ok';
    });
  }

  schemaVersion(): Promise<number> {
    return this.db.run(async () => (await this.db.pool.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations')).rows[0]!.v);
  }

  /** One statement, atomic by itself: of two instances acquiring a run at once, one gets it. */
  acquireJob(job: string, slot: string, holder: string, at: Date, leaseUntil: Date): Promise<boolean> {
    const now = at.toISOString();
    return this.db.run(async () => ((await this.db.pool.query(`INSERT INTO job_runs (job, slot, holder, started_at, lease_until) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (job, slot) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until, attempts = job_runs.attempts + 1
        WHERE job_runs.finished_at IS NULL AND job_runs.lease_until <= $4`, [job, slot, holder, now, leaseUntil.toISOString()])).rowCount ?? 0) === 1);
  }

  renewJob(job: string, slot: string, holder: string, leaseUntil: Date): Promise<boolean> {
    return this.db.run(async () => ((await this.db.pool.query('UPDATE job_runs SET lease_until = $1 WHERE job = $2 AND slot = $3 AND holder = $4 AND finished_at IS NULL',
      [leaseUntil.toISOString(), job, slot, holder])).rowCount ?? 0) === 1);
  }

  finishJob(job: string, slot: string, holder: string, at: Date, outcome: 'done' | 'failed', detail: string | null): Promise<boolean> {
    return this.db.run(async () => ((await this.db.pool.query(`UPDATE job_runs SET finished_at = $1, outcome = $2, detail = $3
      WHERE job = $4 AND slot = $5 AND holder = $6 AND finished_at IS NULL`,
    [at.toISOString(), outcome, detail === null ? null : detail.slice(0, 500), job, slot, holder])).rowCount ?? 0) === 1);
  }

  abandonedJobs(at: Date, maxAttempts: number): Promise<AbandonedJob[]> {
    return this.db.run(async () => (await this.db.pool.query<AbandonedJob>(`SELECT job, slot, holder, attempts FROM job_runs
      WHERE finished_at IS NULL AND lease_until <= $1 AND attempts < $2 ORDER BY slot, job`, [at.toISOString(), maxAttempts])).rows);
  }

  /**
   * How many commits of other processes this store heard of (see `ChangeListener`): it moves
   * when another process's write transaction (or housekeeping) changed something. The
   * outbox's own sending bookkeeping (claims, parts, receipts) does not move it.
   */
  changeMarker(): Promise<number> {
    return this.db.run(() => this.db.changes.marker());
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * The database URL as libpq (pg_dump, pg_restore) takes it: the password goes in the
 * environment, never on a command line; options only node-postgres knows are translated
 * (`sslmode=no-verify` and `ssl=true` are libpq's `require`) or dropped.
 */
export function libpqTarget(raw: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(raw);
  const env: NodeJS.ProcessEnv = { PGCONNECT_TIMEOUT: '10' };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  u.password = '';
  const ssl = u.searchParams.get('ssl');
  u.searchParams.delete('ssl');
  u.searchParams.delete('uselibpqcompat');
  if (u.searchParams.get('sslmode') === 'no-verify') u.searchParams.set('sslmode', 'require');
  if ((ssl === 'true' || ssl === '1') && !u.searchParams.has('sslmode')) u.searchParams.set('sslmode', 'require');
  return { url: u.toString(), env };
}

/** Runs a PostgreSQL client tool; rejects with its last words (or with what to install when it is missing). */
function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString('utf8')).slice(-2000);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new Error(`${cmd} not found: a backup of a PostgreSQL database is made with ${cmd}; install the PostgreSQL client tools (the server's major version or newer) on this host`)
        : e);
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}
