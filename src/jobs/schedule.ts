import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import cron from 'node-cron';
import type { Core } from '../core/core.ts';
import type { StoreAdmin } from '../core/ports.ts';
import type { Logger } from '../logger.ts';

/**
 * Scheduled jobs. Each body is a plain function (runnable by hand and in tests); node-cron
 * only decides when, in the company's time zone, and never lets a job overlap itself in one
 * process. Each scheduled run is done once across the instances sharing the database (see
 * `runOnce`). Every job logs its start, end and figures.
 */
export interface JobDeps {
  core: Core;
  admin: StoreAdmin;
  backupDir: string;
  backupKeepDays: number;
  reminderDays: number;
  logger: Logger;
  /** This instance's name (`ZHEDEL_INSTANCE`): the holder of the job runs it takes. Default 'local'. */
  instance?: string;
  /** How long a run stays this instance's without a renewal (default JOB_LEASE_MS). */
  leaseMs?: number;
}

/** How long a job run's claim holds without renewal; the run renews it every third of this. */
export const JOB_LEASE_MS = 60_000;
/** A run whose holder died is taken over at most this many times in all (a run that kills its process is not retried forever). */
export const JOB_MAX_ATTEMPTS = 3;

/** The slot of a scheduled run: the minute it was scheduled for, as an ISO time. */
export function slotOf(at: Date): string {
  const t = new Date(at.getTime());
  t.setUTCSeconds(0, 0);
  return t.toISOString();
}

/**
 * Runs `body` for the scheduled run (`job`, `slot`) unless another instance runs or ran it:
 * takes the run's lease in the database first (`StoreAdmin.acquireJob`), renews it every
 * third of `leaseMs` while the body runs, then records the run finished ('done', or 'failed'
 * with the error). Resolves with `{ ran: false }` when the run was not this instance's to do,
 * else with the body's result or error; never rejects. A run whose holder died without
 * finishing is taken over by the next `runOnce` of that (job, slot) after its lease ran out.
 */
export async function runOnce<T>(
  d: Pick<JobDeps, 'admin' | 'logger' | 'instance' | 'leaseMs'>, job: string, slot: string, body: () => Promise<T>,
  o: { leaseMs?: number; now?: () => Date } = {},
): Promise<{ ran: false } | { ran: true; result: T } | { ran: true; error: unknown }> {
  const leaseMs = o.leaseMs ?? d.leaseMs ?? JOB_LEASE_MS;
  const now = o.now ?? (() => new Date());
  const holder = d.instance ?? 'local';
  const until = (): Date => new Date(now().getTime() + leaseMs);
  let mine: boolean;
  try {
    mine = await d.admin.acquireJob(job, slot, holder, now(), until());
  } catch (err) {
    d.logger.error({ job, slot, err }, 'job run could not be claimed; not run');
    return { ran: false };
  }
  if (!mine) {
    d.logger.info({ job, slot }, 'job run taken by another instance (or done)');
    return { ran: false };
  }
  let renewing = false;
  const renew = setInterval(() => {
    if (renewing) return;
    renewing = true;
    d.admin.renewJob(job, slot, holder, until())
      .then((held) => {
        if (!held) d.logger.warn({ job, slot }, 'job run taken over by another instance while running');
      })
      .catch((err: unknown) => d.logger.error({ job, slot, err }, 'job lease could not be renewed'))
      .finally(() => {
        renewing = false;
      });
  }, Math.max(10, Math.floor(leaseMs / 3)));
  renew.unref();
  let out: { ran: true; result: T } | { ran: true; error: unknown };
  try {
    out = { ran: true, result: await body() };
  } catch (error) {
    out = { ran: true, error };
  } finally {
    clearInterval(renew);
  }
  const error = 'error' in out ? out.error : undefined;
  const detail = 'error' in out ? (error instanceof Error ? error.message : String(error)).slice(0, 200) : null;
  try {
    if (!(await d.admin.finishJob(job, slot, holder, now(), detail === null ? 'done' : 'failed', detail))) {
      d.logger.warn({ job, slot }, 'job run finished here after another instance had taken it over');
    }
  } catch (err) {
    d.logger.error({ job, slot, err }, 'the end of a job run could not be recorded (another instance will run it again once its lease ends)');
  }
  return out;
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

/**
 * Objects' opening and closing schedules, every minute: not armed by the arm-by time → SMS to
 * the trusted numbers, and after the grace period an operators' alert, each once a day.
 */
export function scheduleCheckJob(d: JobDeps, at = new Date()): ReturnType<Core['checkSchedules']> {
  return d.core.checkSchedules(at);
}

/** The scheduled jobs by name: each runs for the time of its slot. */
export function jobBodies(d: JobDeps): Record<string, (at: Date) => Promise<unknown>> {
  return {
    billing: (at) => billingJob(d, at),
    'billing-reminder': (at) => reminderJob(d, at),
    housekeeping: (at) => housekeepingJob(d, at),
    backup: (at) => backupJob(d, at),
    'journal-verify': () => journalJob(d),
    'schedule-check': (at) => scheduleCheckJob(d, at),
  };
}

/**
 * Runs of jobs whose holder died (their lease ran out unfinished) are resumed: each is
 * taken over and run again for its slot's time. All jobs are safe to run again: billing
 * charges each period once, reminders go once per period, housekeeping and the journal check
 * change nothing twice, a backup is simply taken again. Never rejects.
 */
export async function resumeAbandoned(d: JobDeps, o: { leaseMs?: number; now?: () => Date } = {}): Promise<number> {
  const now = o.now ?? (() => new Date());
  const bodies = jobBodies(d);
  let resumed = 0;
  let list: Awaited<ReturnType<StoreAdmin['abandonedJobs']>>;
  try {
    list = await d.admin.abandonedJobs(now(), JOB_MAX_ATTEMPTS);
  } catch (err) {
    d.logger.error({ err }, 'abandoned job runs could not be read');
    return 0;
  }
  for (const run of list) {
    const body = bodies[run.job];
    if (!body) continue;
    const at = new Date(run.slot);
    const r = await logged(d, run.job, run.slot, () => {
      d.logger.warn({ job: run.job, slot: run.slot, holder: run.holder, attempts: run.attempts }, 'job run left unfinished by its instance: resuming');
      return body(at);
    }, o);
    if (r.ran) resumed++;
  }
  return resumed;
}

/** `runOnce` with the job's log lines: started, then finished with its figures or failed. */
async function logged(d: JobDeps, job: string, slot: string, body: () => Promise<unknown>, o: { leaseMs?: number; now?: () => Date } = {}): Promise<{ ran: boolean }> {
  const t0 = Date.now();
  const r = await runOnce(d, job, slot, () => {
    d.logger.info({ job, slot }, 'job started');
    return body();
  }, o);
  if ('error' in r) d.logger.error({ job, err: r.error }, 'job failed');
  else if ('result' in r) d.logger.info({ job, ms: Date.now() - t0, figures: r.result }, 'job finished');
  return r;
}

/** How often each instance looks for job runs left unfinished by an instance that died. */
const RESUME_EVERY_MS = 60_000;

export function startSchedules(d: JobDeps, timeZone: string): { stop(): void } {
  const bodies = jobBodies(d);
  const wrap = (name: string): (() => Promise<void>) => async () => {
    const at = new Date();
    const body = bodies[name] as (at: Date) => Promise<unknown>;
    await logged(d, name, slotOf(at), () => body(at));
  };
  const tasks = [
    cron.schedule('5 0 1 * *', wrap('billing'), { timezone: timeZone, noOverlap: true, name: 'billing' }),
    cron.schedule('0 10 * * *', wrap('billing-reminder'), { timezone: timeZone, noOverlap: true, name: 'billing-reminder' }),
    cron.schedule('17 * * * *', wrap('housekeeping'), { timezone: timeZone, noOverlap: true, name: 'housekeeping' }),
    cron.schedule('30 3 * * *', wrap('backup'), { timezone: timeZone, noOverlap: true, name: 'backup' }),
    cron.schedule('0 4 * * *', wrap('journal-verify'), { timezone: timeZone, noOverlap: true, name: 'journal-verify' }),
    cron.schedule('* * * * *', wrap('schedule-check'), { timezone: timeZone, noOverlap: true, name: 'schedule-check' }),
  ];
  let resuming = false;
  const resumer = setInterval(() => {
    if (resuming) return;
    resuming = true;
    void resumeAbandoned(d).finally(() => {
      resuming = false;
    });
  }, RESUME_EVERY_MS);
  resumer.unref();
  return {
    stop() {
      clearInterval(resumer);
      for (const t of tasks) void t.stop();
    },
  };
}
