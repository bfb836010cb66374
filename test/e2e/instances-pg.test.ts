import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresPrograms, startCluster } from '../../scripts/test-prereqs.mjs';
import type { TestPostgres } from '../../scripts/test-prereqs.mjs';
import { loadConfig } from '../../src/config.ts';
import { openCore } from '../../src/context.ts';
import type { CoreContext } from '../../src/context.ts';
import { AsteriskSim } from '../sim/asterisk.ts';
import type { SimCall } from '../sim/asterisk.ts';
import { SmscSim } from '../sim/smsc.ts';
import { createTestDatabase, pgUrl } from '../support/pg.ts';

/**
 * Two service processes (the compiled `zhedel serve`) on one PostgreSQL database, each with an
 * Asterisk of its own (simulators), both bound to one SMSC account (the SMSC simulator): one is
 * killed with SIGKILL in the middle of the work and the other finishes it; then the database
 * server itself is stopped and started again under both.
 */

const url = pgUrl();
const required = !['', '0', 'false'].includes((process.env.ZHEDEL_REQUIRE_PG ?? '').toLowerCase());
const ROOT = resolve(import.meta.dirname, '..', '..');
const SECRET = 'instances-test-secret-'.repeat(3);
const MONITORING_KEY = 'instances-monitoring-key-0123456789';

interface Instance {
  name: string;
  child: ChildProcess;
  address: string;
  log: string[];
  exited: Promise<number | null>;
  dir: string;
}

async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  // each instance on a machine of its own would have its own data folder (pid file, backups)
  const dir = mkdtempSync(join(tmpdir(), `zhedel-${name}-`));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'zhedel.js'), 'serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '', ZHEDEL_SECRET: SECRET, ZHEDEL_INSTANCE: name, ZHEDEL_HTTP_PORT: '0', ZHEDEL_LOG_LEVEL: 'info',
      ZHEDEL_MONITORING_KEY: MONITORING_KEY, ZHEDEL_AMI_PORT: '1', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  let buffered = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const address = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start:\n${log.join('\n')}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        const m = /"msg":"http listening"/.test(line) ? /"address":"(http:\/\/[^"]+)"/.exec(line) : null;
        if (m) {
          clearTimeout(timer);
          ok(m[1] as string);
        }
      }
    });
    child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
    void exited.then((code) => fail(new Error(`${name} exited with ${code}:\n${log.join('\n')}`)));
  });
  return { name, child, address, log, exited, dir };
}

async function stopInstance(i: Instance): Promise<number | null> {
  if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGTERM');
  const code = await i.exited;
  rmSync(i.dir, { recursive: true, force: true });
  return code;
}

async function until<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`waited in vain for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function postEvent(address: string, body: Record<string, unknown>): Promise<number> {
  try {
    const res = await fetch(`${address}/v1/monitoring/events`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': MONITORING_KEY }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function readyDatabase(address: string): Promise<boolean | undefined> {
  try {
    const res = await fetch(`${address}/ready`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { checks?: Record<string, { ok: boolean }> };
    return body.checks?.database?.ok;
  } catch {
    return undefined;
  }
}

async function withCore<T>(dbUrl: string, fn: (ctx: CoreContext) => Promise<T>): Promise<T> {
  const ctx = await openCore(loadConfig({ ZHEDEL_DB: dbUrl, ZHEDEL_SECRET: SECRET, ZHEDEL_INSTANCE: 'test-seed' }));
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

const phoneOf = (i: number): string => `+7701${String(1_000_000 + i).padStart(7, '0')}`;
const codeOf = (i: number): string => String(5000 + i);

describe.runIf(url !== undefined || required)('two service instances on one PostgreSQL database', () => {
  beforeAll(() => {
    if (!url) throw new Error('ZHEDEL_REQUIRE_PG is set but ZHEDEL_TEST_PG is not: no PostgreSQL server for the tests');
  });

  it('one is killed mid-drain: the other sends the rest, nothing lost, duplicates flagged, every alarm told and called once', async () => {
    const db = await createTestDatabase();
    const smsc = await SmscSim.start({ systemId: 'zhedel', password: 'secret', behaviour: { autoReceiptMs: 20 } });
    const asterisks = [await AsteriskSim.start({ user: 'zhedel', password: 'secret', playbackMs: 20 }), await AsteriskSim.start({ user: 'zhedel', password: 'secret', playbackMs: 20 })];
    const instances: Instance[] = [];
    // the test plays every client who is called: waits for the alarm prompt and presses 1
    const answered = new Set<SimCall>();
    let playing = true;
    const callees = (async () => {
      while (playing) {
        for (const a of asterisks) {
          for (const call of a.answered) {
            if (answered.has(call)) continue;
            answered.add(call);
            void call.waitForPrompt('alarm-press-1', 30_000).then(() => call.press('1')).catch(() => undefined);
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      for (const a of asterisks) a.onOriginate = () => ({ kind: 'answer', afterMs: 50 });
      const N = 20;
      const BULK = 3_000;
      await withCore(db.url, async ({ core, store }) => {
        for (let i = 0; i < N; i++) {
          const c = await core.addClient({ name: `Клиент ${i}`, lang: 'ru', balance: 1_000_000, operator: 'test' });
          await core.addObject({ clientId: c.id, code: codeOf(i), address: `Алматы, ${i}`, calloutEnabled: true, operator: 'test' });
          await core.addNumber({ clientId: c.id, phone: phoneOf(i), signed: true, operator: 'test' });
          await core.operatorRequest({ action: 'arm', objectCode: codeOf(i), operator: 'test' });
        }
        const at = new Date().toISOString();
        await store.transaction(async (tx) => {
          for (let i = 0; i < BULK; i++) {
            await tx.enqueueSms({ priority: 2, kind: 'notice', phone: '+77020000000', clientId: null, body: `bulk ${i}`, bodyEnc: null, secret: false, at, expiresAt: null });
          }
        });
      });
      const common = {
        ZHEDEL_DB: db.url, ZHEDEL_SMPP_URL: smsc.url, ZHEDEL_SMPP_SYSTEM_ID: 'zhedel', ZHEDEL_SMPP_PASSWORD: 'secret', ZHEDEL_SMPP_TPS: '150',
        ZHEDEL_ARI_USER: 'zhedel', ZHEDEL_ARI_PASSWORD: 'secret', ZHEDEL_CALLOUT_PAUSE_S: '1', ZHEDEL_LEASE_S: '3',
      };
      instances.push(await startInstance('alpha', { ...common, ZHEDEL_ARI_URL: asterisks[0]!.url }));
      instances.push(await startInstance('beta', { ...common, ZHEDEL_ARI_URL: asterisks[1]!.url }));
      const [alpha, beta] = instances as [Instance, Instance];
      await until('both SMPP binds', () => smsc.boundCount >= 2);
      await until('both ARI links', () => asterisks.every((a) => a.connectedApps().length > 0));

      // 20 alarms arrive at both instances while the queue drains
      const statuses = await Promise.all(Array.from({ length: N }, (_, i) =>
        postEvent((i % 2 ? beta : alpha).address, { id: `mc-${i}`, object: codeOf(i), type: 'alarm', kind: 'burglary', zone: 1 })));
      expect(statuses.every((s) => s === 201)).toBe(true);
      const alarmTexts = (): number => Array.from({ length: N }, (_, i) => smsc.textsTo(phoneOf(i).slice(1)).filter((t) => t.startsWith('ТРЕВОГА')).length).filter((n) => n > 0).length;
      await until('every alarm SMS', () => alarmTexts() === N);
      await until('every call-out acknowledged', async () => (await withCore(db.url, ({ core }) => core.searchJournal({ action: 'alarm-ack', limit: 100 }))).length >= N);
      const bulkSent = (): number => smsc.submits.filter((s) => s.text?.startsWith('bulk ')).length;
      await until('a part of the queue sent', () => bulkSent() >= 600);
      expect(bulkSent()).toBeLessThan(BULK);

      // alpha dies without a word, holding its claims
      alpha.child.kill('SIGKILL');
      await alpha.exited;
      const killedAt = bulkSent();

      await until('the outbox drained by beta', async () => {
        const counts = await withCore(db.url, ({ outbox }) => outbox.counts());
        return !counts.queued && !counts.sending;
      }, 120_000);
      expect(bulkSent()).toBeGreaterThan(killedAt);

      await withCore(db.url, async ({ core, store }) => {
        const rows = [];
        for (let before: number | undefined; ;) {
          const page = await store.read((tx) => tx.listOutbox({ limit: 1_000, ...(before ? { before } : {}) }));
          rows.push(...page);
          if (page.length < 1_000) break;
          before = page[page.length - 1]!.id;
        }
        // every message reached the SMSC; none failed, expired or is stuck
        expect(rows.filter((r) => !['submitted', 'delivered'].includes(r.state))).toEqual([]);
        const times = new Map<string, number>();
        for (const s of smsc.submits) if (s.text) times.set(s.text, (times.get(s.text) ?? 0) + 1);
        const bulk = rows.filter((r) => r.kind === 'notice' && r.body?.startsWith('bulk '));
        expect(bulk).toHaveLength(BULK);
        for (const r of bulk) expect(times.get(r.body as string) ?? 0).toBeGreaterThanOrEqual(1);
        // what went out twice is flagged as a possible duplicate
        const twice = bulk.filter((r) => (times.get(r.body as string) ?? 0) > 1);
        for (const r of twice) expect(r.duplicateRisk).toBe(true);
        // each alarm: its SMS told once, one call-out placed, acknowledged once
        for (let i = 0; i < N; i++) {
          expect(smsc.textsTo(phoneOf(i).slice(1)).filter((t) => t.startsWith('ТРЕВОГА'))).toHaveLength(1);
          expect(asterisks.flatMap((a) => a.originated).filter((o) => o.endpoint.includes(phoneOf(i).slice(1)) || o.endpoint.includes(phoneOf(i)))).toHaveLength(1);
        }
        expect(await core.searchJournal({ action: 'alarm-ack', limit: 100 })).toHaveLength(N);
        const journal = await core.verifyJournal();
        expect(journal.ok).toBe(true);
      });
      // beta took alpha's claims over as possible duplicates and said so
      expect(beta.log.some((l) => /"level":50/.test(l) && !/SMPP|smsc/i.test(l))).toBe(false);
      expect(await stopInstance(beta)).toBe(0);
    } finally {
      playing = false;
      await callees;
      for (const i of instances) await stopInstance(i).catch(() => undefined);
      await smsc.close();
      for (const a of asterisks) await a.close();
      await db.drop();
    }
  }, 240_000);

  describe.runIf(findPostgresPrograms() !== null)('the database server restarts under them', () => {
    let cluster: TestPostgres;
    beforeAll(async () => {
      const programs = findPostgresPrograms();
      if (!programs) throw new Error('no PostgreSQL server programs');
      cluster = await startCluster(programs);
    }, 120_000);
    afterAll(() => cluster?.stop());

    it('both show the database down meanwhile, reconnect by themselves, and keep everything they confirmed', async () => {
      const u = new URL(cluster.url);
      u.pathname = '/zhedel';
      const dbUrl = u.toString();
      const pgmod = await import('pg');
      const admin = new pgmod.default.Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query('CREATE DATABASE zhedel');
      await admin.end();
      await withCore(dbUrl, async ({ core }) => {
        const c = await core.addClient({ name: 'Клиент', lang: 'ru', balance: 1_000_000, operator: 'test' });
        await core.addObject({ clientId: c.id, code: '7001', address: 'Алматы', operator: 'test' });
      });
      const off = { ZHEDEL_DB: dbUrl, ZHEDEL_SMPP_URL: 'smpp://127.0.0.1:1', ZHEDEL_ARI_URL: 'http://127.0.0.1:1', ZHEDEL_DB_STATEMENT_TIMEOUT_MS: '2000' };
      const instances = [await startInstance('alpha', off), await startInstance('beta', off)];
      try {
        const confirmed: string[] = [];
        let n = 0;
        const send = async (i: Instance): Promise<number> => {
          const id = `ev-${n++}`;
          const status = await postEvent(i.address, { id, object: '7001', type: 'test' });
          if (status === 201 || status === 200) confirmed.push(id);
          return status;
        };
        for (const i of instances) expect(await send(i)).toBe(201);

        cluster.down?.();
        for (const i of instances) await until(`${i.name} shows the database down`, async () => (await readyDatabase(i.address)) === false, 20_000);
        // while it is away nothing is confirmed that is not stored
        for (const i of instances) expect(await send(i)).not.toBe(201);

        cluster.up?.();
        for (const i of instances) await until(`${i.name} shows the database up again`, async () => (await readyDatabase(i.address)) === true, 30_000);
        for (const i of instances) await until(`${i.name} stores again`, async () => (await send(i)) === 201, 30_000);

        // every event confirmed before, during and after is stored: sent again, each is a duplicate
        for (const [k, id] of confirmed.entries()) {
          expect(await postEvent(instances[k % 2]!.address, { id, object: '7001', type: 'test' })).toBe(200);
        }
        await withCore(dbUrl, async ({ core }) => {
          expect((await core.verifyJournal()).ok).toBe(true);
        });
        for (const i of instances) expect(await stopInstance(i)).toBe(0);
      } finally {
        for (const i of instances) await stopInstance(i).catch(() => undefined);
      }
    }, 180_000);
  });
});
