import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import cron from 'node-cron';
import type { Core } from '../core/core.ts';
import type { StoreAdmin } from '../core/ports.ts';
import type { Logger } from '../logger.ts';

/**
 * Scheduled jobs. Each body is a plain function (runnable by hand and in tests); node-cron
 * only decides when, in the company's time zone, and never lets a job overlap itself. Every
 * job logs its start, end and figures.
 */
export interface JobDeps {
  core: Core;
  admin: StoreAdmin;
  backupDir: string;
  backupKeepDays: number;
  reminderDays: number;
  logger: Logger;
}

// Jobs that only hand over to the core or the store return its answer as it comes; the scheduler awaits it.

export function billingJob(d: JobDeps, at = new Date()): ReturnType<Core['runBilling']> {
  return d.core.runBilling(at);
}

export function reminderJob(d: JobDeps, at = new Date()): ReturnType<Core['runReminders']> {
  return d.core.runReminders(at, d.reminderDays);
}

/** Expires codes past their lifetime, sessions past their life, and old queued SMS. */
export function housekeepingJob(d: JobDeps, at = new Date()): ReturnType<StoreAdmin['housekeeping']> {
  return d.admin.housekeeping(at);
}

/** An online backup (consistent while writes go on), 0600 in a 0700 folder, checked, old ones pruned. */
export async function backupJob(d: JobDeps, at = new Date()): Promise<{ file: string; integrity: string; removed: number }> {
  const file = join(d.backupDir, `zhedel-${at.toISOString().slice(0, 19).replace(/[:T]/g, '-')}.db`);
  const { integrity } = await d.admin.backup(file);
  if (integrity !== 'ok') await d.core.raiseAlert({ kind: 'backup-failed', clientId: null, objectCode: null, phone: null, detail: integrity.slice(0, 200) });
  let removed = 0;
  for (const f of readdirSync(d.backupDir)) {
    const p = join(d.backupDir, f);
    if (p !== file && /^zhedel-.*\.db$/.test(f) && statSync(p).mtimeMs < at.getTime() - d.backupKeepDays * 86_400_000) {
      unlinkSync(p);
      removed++;
    }
  }
  return { file, integrity, removed };
}

/** Walks the journal's hash chain; a break alerts the operators. */
export async function journalJob(d: JobDeps): Promise<{ ok: boolean; checked: number; headHash: string }> {
  const v = await d.core.verifyJournal();
  if (!v.ok) await d.core.raiseAlert({ kind: 'journal-broken', clientId: null, objectCode: null, phone: null, detail: `record ${v.problem?.seq}: ${v.problem?.kind}` });
  return { ok: v.ok, checked: v.checked, headHash: v.headHash };
}

export function startSchedules(d: JobDeps, timeZone: string): { stop(): void } {
  const wrap = (name: string, fn: () => unknown): (() => Promise<void>) => async () => {
    const t0 = Date.now();
    d.logger.info({ job: name }, 'job started');
    try {
      const figures = await fn();
      d.logger.info({ job: name, ms: Date.now() - t0, figures }, 'job finished');
    } catch (e) {
      d.logger.error({ job: name, err: e }, 'job failed');
    }
  };
  const tasks = [
    cron.schedule('5 0 1 * *', wrap('billing', () => billingJob(d)), { timezone: timeZone, noOverlap: true, name: 'billing' }),
    cron.schedule('0 10 * * *', wrap('billing-reminder', () => reminderJob(d)), { timezone: timeZone, noOverlap: true, name: 'billing-reminder' }),
    cron.schedule('17 * * * *', wrap('housekeeping', () => housekeepingJob(d)), { timezone: timeZone, noOverlap: true, name: 'housekeeping' }),
    cron.schedule('30 3 * * *', wrap('backup', () => backupJob(d)), { timezone: timeZone, noOverlap: true, name: 'backup' }),
    cron.schedule('0 4 * * *', wrap('journal-verify', () => journalJob(d)), { timezone: timeZone, noOverlap: true, name: 'journal-verify' }),
  ];
  return {
    stop() {
      for (const t of tasks) void t.stop();
    },
  };
}

