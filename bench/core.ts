import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { openDb } from '../src/store/db.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { figure, fmt, summary } from './stats.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

function setup(dbPath: string): { core: Core; close: () => void } {
  const db = openDb(dbPath);
  const core = new Core({ store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys(SECRET), timeZone: 'Asia/Almaty' });
  return { core, close: () => db.close() };
}

/** identify + status + arm, each request a committed (fsynced) journal document. */
export async function loop(core: Core, phone: string, iterations: number): Promise<{ latencies: number[]; seconds: number; requests: number }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const a = performance.now();
    await core.identify(phone);
    await core.request({ channel: 'sms', phone, action: 'status' });
    const b = performance.now();
    await core.request({ channel: 'sms', phone, action: 'arm' });
    const c = performance.now();
    latencies.push(b - a, c - b);
  }
  return { latencies, seconds: (performance.now() - t0) / 1000, requests: iterations * 2 };
}

export async function benchCore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-'));
  const dbPath = join(dir, 'bench.db');
  try {
    const { core, close } = setup(dbPath);
    const c = await core.addClient({ name: 'Bench', operator: 'bench' });
    await core.addObject({ clientId: c.id, code: '1234', address: 'Bench street', operator: 'bench' });
    await core.addNumber({ clientId: c.id, phone: '+77011234567', signed: true, operator: 'bench' });
    await core.addNumber({ clientId: c.id, phone: '+77021234567', signed: true, operator: 'bench' });
    await loop(core, '+77011234567', 200); // warm-up

    const single = await loop(core, '+77011234567', 2000);
    const s1 = summary(single.latencies);
    figure('core durable requests/s (single writer)', fmt(single.requests / single.seconds, 0), 'req/s');
    figure('core request latency p50 / p99 / p99.9 / max (single writer)', `${fmt(s1.p50)} / ${fmt(s1.p99)} / ${fmt(s1.p999)} / ${fmt(s1.max)}`, 'ms');

    // A second process (as the CLI would) writes to the same file meanwhile: first at an
    // operator's pace, then flat out.
    for (const [label, rate] of [['a second writer at 50 writes/s', 50], ['a second writer flat out', 0]] as const) {
      const other = spawn(process.execPath, ['bin/run-ts.js', 'test/support/writer.ts', dbPath, '+77021234567', '0', String(rate)], { stdio: ['ignore', 'ignore', 'inherit'] });
      await new Promise((r) => setTimeout(r, 800));
      const conc = await loop(core, '+77011234567', 2000);
      other.kill('SIGTERM');
      await new Promise((r) => other.once('exit', r));
      const s2 = summary(conc.latencies);
      figure(`core durable requests/s (with ${label})`, fmt(conc.requests / conc.seconds, 0), 'req/s');
      figure(`core request latency p50 / p99 / p99.9 / max (with ${label})`, `${fmt(s2.p50)} / ${fmt(s2.p99)} / ${fmt(s2.p999)} / ${fmt(s2.max)}`, 'ms');
    }
    const v = await core.verifyJournal();
    figure('journal after benchmark', v.ok ? `intact (${v.checked} records)` : 'BROKEN');
    close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
