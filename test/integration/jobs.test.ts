import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupJob, housekeepingJob, journalJob } from '../../src/jobs/schedule.ts';
import type { JobDeps } from '../../src/jobs/schedule.ts';
import { integrityCheck, openDb } from '../../src/store/db.ts';
import { makeFixture, seedClient } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { quietLogger } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function deps(fx: Fixture, backupDir = join(fx.dir, 'backups')): JobDeps {
  return { core: fx.core, admin: fx.admin, backupDir, backupKeepDays: 2, reminderDays: 3, logger: quietLogger };
}

describe('scheduled jobs', () => {
  it('housekeeping expires codes, sessions and SMS that waited too long', async () => {
    const fx = makeFixture();
    cleanups.push(() => fx.close());
    await seedClient(fx);
    await fx.core.request({ channel: 'sms', phone: '87011234567', action: 'disarm' });
    const r = await housekeepingJob(deps(fx), new Date(fx.clock.now().getTime() + 10 * 60_000));
    expect(r.codes).toBe(1);
    expect(fx.db.prepare('SELECT state FROM challenges').get()).toEqual({ state: 'expired' });
    const later = await housekeepingJob(deps(fx), new Date(fx.clock.now().getTime() + 3 * 86_400_000));
    expect(later.staleSms).toBe(1);
    expect(fx.db.prepare('SELECT state, body_enc FROM outbox').get()).toEqual({ state: 'expired', body_enc: null });
  });

  it('an online backup taken while writes go on is consistent; old backups are pruned', async () => {
    const fx = makeFixture({ realClock: true });
    cleanups.push(() => fx.close());
    await seedClient(fx);
    let writes = 0;
    let stop = false;
    // writes go on until the backup is done, and end before the database closes
    const writer = (async () => {
      while (!stop) {
        for (let i = 0; i < 20; i++) {
          await fx.core.operatorRequest({ action: i % 2 ? 'arm' : 'disarm', objectCode: '1234', operator: 'w' });
          writes++;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const r = await backupJob(deps(fx));
    stop = true;
    await writer;
    expect(writes).toBeGreaterThan(0);
    expect(r.integrity).toBe('ok');
    const copy = openDb(r.file, { migrate: false });
    expect(integrityCheck(copy)).toBe('ok');
    const n = (copy.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
    copy.close();
    expect(n).toBeGreaterThan(3);
    const again = await backupJob({ ...deps(fx), backupDir: join(fx.dir, 'backups') }, new Date(Date.now() + 5 * 86_400_000));
    expect(again.removed).toBe(1);
    expect(readdirSync(join(fx.dir, 'backups')).filter((f) => f.endsWith('.db'))).toHaveLength(1);
    expect(existsSync(again.file)).toBe(true);
  });

  it('the journal check alerts the operators when the chain is broken', async () => {
    const fx = makeFixture();
    cleanups.push(() => fx.close());
    await seedClient(fx);
    expect((await journalJob(deps(fx))).ok).toBe(true);
    fx.db.exec("DROP TRIGGER journal_no_update; UPDATE journal SET outcome = 'refused' WHERE seq = 2;");
    expect((await journalJob(deps(fx))).ok).toBe(false);
    expect(await fx.core.listAlerts()).toEqual([expect.objectContaining({ kind: 'journal-broken', detail: 'record 2: hash-mismatch' })]);
  });
});
