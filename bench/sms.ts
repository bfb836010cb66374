import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import smpp from 'smpp';
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { Dispatcher } from '../src/sms/dispatcher.ts';
import { SmppSession } from '../src/sms/session.ts';
import { openDb } from '../src/store/db.ts';
import { OutboxStore } from '../src/store/outbox-store.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { SmscSim } from '../test/sim/smsc.ts';
import { figure, fmt, seed, summary } from './stats.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const silent = pino({ level: 'silent' });

type BareSession = {
  on(e: string, f: (...a: unknown[]) => void): void;
  bind_transceiver(o: object, cb: (p: { command_status: number }) => void): void;
  submit_sm(o: object, cb: (p: { command_status: number }) => void): void;
  destroy(): void;
};

/** The ceiling: a bare loop over the `smpp` library with the same window, no database. */
async function bareLoop(url: string, count: number, window: number): Promise<number> {
  const lib = smpp as unknown as { connect(o: object): BareSession };
  const u = new URL(url);
  const s = lib.connect({ host: u.hostname, port: Number(u.port) });
  s.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    s.on('connect', () => s.bind_transceiver({ system_id: 'zhedel', password: 'secret' }, (p) => (p.command_status === 0 ? resolve() : reject(new Error('bind')))));
  });
  const body = Buffer.from('Bench message', 'latin1');
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let done = 0;
    let inFlight = 0;
    const pump = (): void => {
      while (inFlight < window && sent < count) {
        sent++;
        inFlight++;
        s.submit_sm({ destination_addr: '77011234567', source_addr: 'ZHEDEL', source_addr_ton: 5, dest_addr_ton: 1, dest_addr_npi: 1, short_message: body, data_coding: 0, registered_delivery: 1 }, () => {
          inFlight--;
          done++;
          if (done === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const secs = (performance.now() - t0) / 1000;
  s.destroy();
  return count / secs;
}

interface Rig {
  db: ReturnType<typeof openDb>;
  core: Core;
  outbox: OutboxStore;
  session: SmppSession;
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

function rig(dir: string, name: string, url: string, o: { window: number; tps?: number; start?: boolean }): Rig {
  const db = openDb(join(dir, `${name}.db`));
  let wake: () => void = () => undefined;
  const core = new Core({
    store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys(SECRET), timeZone: 'Asia/Almaty',
    outboxSignal: { queued: () => wake() },
  });
  const outbox = new OutboxStore(db);
  const session = new SmppSession({ url, systemId: 'zhedel', password: 'secret', logger: silent, window: o.window, tps: o.tps ?? 0, responseTimeoutMs: 30_000 });
  const dispatcher = new Dispatcher({
    store: outbox, link: session, clock: systemClock, logger: silent, sender: 'ZHEDEL', 
    openText: async (m) => (await core.outboxText({ body: m.body, bodyEnc: m.bodyEnc, secret: m.secret, phone: m.phone }, true)) ?? '',
  });
  session.on('bound', () => dispatcher.wake());
  wake = () => dispatcher.wake();
  return {
    db, core, outbox, session, dispatcher,
    async close() {
      await dispatcher.stop(5_000);
      await session.stop(1_000);
      db.close();
    },
  };
}

async function enqueue(r: Rig, n: number, text: (i: number) => string): Promise<void> {
  await seed(r.db, async () => {
    for (let j = 0; j < n; j++) {
      await r.core.queueSms({ priority: j % 3 === 0 ? 'alarm' : 'info', kind: 'bench', phone: '+77011234567', clientId: null, text: text(j), secret: false, expiresAt: null });
    }
  });
}

/** Waits until `n` messages were accepted (the dispatcher's own count: no query while measuring). */
async function waitSubmitted(r: Rig, n: number, timeoutMs: number): Promise<void> {
  // each rig has its own dispatcher, whose count starts at zero
  const start = Date.now();
  while (r.dispatcher.stats.settled < n) {
    if (Date.now() - start > timeoutMs) throw new Error(`only ${r.dispatcher.stats.settled} of ${n} submitted`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

export async function benchSms(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-sms-'));
  const sim = await SmscSim.start({ systemId: 'zhedel', password: 'secret' });
  try {
    const N = 20_000;
    for (const window of [10, 50]) {
      const bare = await bareLoop(sim.url, N, window);
      const r = rig(dir, `w${window}`, sim.url, { window });
      await enqueue(r, N, (i) => (i % 10 === 0 ? `Длинное сообщение номер ${i}: ${'Ж'.repeat(80)}` : `Bench message ${i}`));
      const parts = N + N / 10; // every tenth message has two parts
      const t0 = performance.now();
      r.session.start();
      await r.dispatcher.start();
      await waitSubmitted(r, N, 120_000);
      const secs = (performance.now() - t0) / 1000;
      await r.close();
      figure(`SMS window ${window}: bare smpp loop (ceiling)`, fmt(bare, 0), 'msg/s');
      figure(`SMS window ${window}: outbox → SMSC, messages`, fmt(N / secs, 0), 'msg/s');
      figure(`SMS window ${window}: outbox → SMSC, parts`, fmt(parts / secs, 0), 'parts/s');
      figure(`SMS window ${window}: ours / bare (parts per second vs messages per second)`, fmt(parts / secs / bare, 2));
    }

    // Latency from enqueue to submit_sm_resp under a steady load of 2,000 messages/s.
    {
      const r = rig(dir, 'latency', sim.url, { window: 10 });
      r.session.start();
      await r.dispatcher.start();
      await new Promise<void>((res) => r.session.once('bound', () => res()));
      const queuedAt = new Map<number, number>();
      const before = sim.submits.length;
      const total = 4_000;
      let made = 0;
      await new Promise<void>((res, rej) => {
        let busy = false;
        const tick = setInterval(() => {
          if (busy) return;
          busy = true;
          void (async () => {
            for (let k = 0; k < 20 && made < total; k++) {
              const id = await r.core.queueSms({ priority: 'info', kind: 'bench', phone: '+77011234567', clientId: null, text: `lat ${made++}`, secret: false, expiresAt: null });
              queuedAt.set(id, performance.now() + performance.timeOrigin);
            }
            if (made >= total) {
              clearInterval(tick);
              res();
            }
          })().catch((e: unknown) => {
            clearInterval(tick);
            rej(e as Error);
          }).finally(() => {
            busy = false;
          });
        }, 10);
      });
      await waitSubmitted(r, total, 60_000);
      const lat: number[] = [];
      for (const s of sim.submits.slice(before)) {
        const m = /^lat (\d+)$/.exec(s.text ?? '');
        if (!m) continue;
        const id = Number(m[1]) + 1;
        const q = queuedAt.get(id);
        if (q) lat.push(s.at - q);
      }
      const st = summary(lat);
      figure('SMS enqueue → submit_sm_resp latency p50 / p99 at 2,000 msg/s', `${fmt(st.p50)} / ${fmt(st.p99)}`, 'ms');
      await r.close();
    }

    // Throughput limit: 100 parts per second for 10 s.
    {
      const r = rig(dir, 'tps', sim.url, { window: 10, tps: 100 });
      await enqueue(r, 1_100, (i) => `tps ${i}`);
      const before = sim.submits.length;
      r.session.start();
      await r.dispatcher.start();
      await new Promise((res) => setTimeout(res, 11_000));
      const sub = sim.submits.slice(before);
      const first = sub[0]?.at ?? 0;
      const inTen = sub.filter((s) => s.at - first < 10_000).length;
      const throttled = sub.filter((s) => s.answered === 0x58).length;
      await r.close();
      figure('SMS with ZHEDEL_SMPP_TPS=100: measured rate over 10 s', fmt(inTen / 10, 1), 'parts/s');
      figure('SMS with ZHEDEL_SMPP_TPS=100: throttling errors', throttled);
    }

    // Memory with 100,000 messages queued.
    {
      const r = rig(dir, 'memory', sim.url, { window: 10 });
      global.gc?.();
      const base = process.memoryUsage();
      await enqueue(r, 100_000, (i) => `Queued notice ${i}`);
      r.session.start();
      await r.dispatcher.start();
      await new Promise((res) => setTimeout(res, 3_000));
      global.gc?.();
      const m = process.memoryUsage();
      figure('SMS with 100,000 queued: heap used above baseline while draining', fmt((m.heapUsed - base.heapUsed) / 1048576, 1), 'MiB');
      figure('SMS with 100,000 queued: resident set size', fmt(m.rss / 1048576, 0), 'MiB');
      await r.close();
    }
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
