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
import { openStore } from '../src/store/index.ts';
import { closeStore, instance, pgEngine, pgServer, queueMessages, SimProcess, sqliteEngine } from './pg.ts';
import type { Engine } from './pg.ts';
import { figure, fmt, seed, summary } from './stats.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const silent = pino({ level: 'silent' });
/** Messages per drain, and rounds of bare loop and drain. */
const DRAIN = 20_000;
const ROUNDS = 3;

type BareSession = {
  on(e: string, f: (...a: unknown[]) => void): void;
  bind_transceiver(o: object, cb: (p: { command_status: number }) => void): void;
  submit_sm(o: object, cb: (p: { command_status: number }) => void): void;
  destroy(): void;
};

/** One-part UCS-2 texts, as most of what the service sends (Russian and Kazakh). */
const ucs2Text = (i: number): string => `Объект 4711 взят под охрану, сообщение ${i}`;

/**
 * The ceiling: a bare loop over the `smpp` library with the same window and the same one-part
 * UCS-2 bytes, no database. Returns messages/s and this process's CPU time per message (the
 * simulator runs in a process of its own).
 */
async function bareLoop(url: string, count: number, window: number): Promise<{ rate: number; cpuUs: number }> {
  const lib = smpp as unknown as { connect(o: object): BareSession };
  const u = new URL(url);
  const s = lib.connect({ host: u.hostname, port: Number(u.port) });
  s.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    s.on('connect', () => s.bind_transceiver({ system_id: 'zhedel', password: 'secret' }, (p) => (p.command_status === 0 ? resolve() : reject(new Error('bind')))));
  });
  const ucs2 = (t: string): Buffer => Buffer.from(t, 'utf16le').swap16();
  const body = ucs2(ucs2Text(12345));
  const run = (n: number): Promise<void> => new Promise<void>((resolve) => {
    let sent = 0;
    let done = 0;
    let inFlight = 0;
    const pump = (): void => {
      while (inFlight < window && sent < n) {
        sent++;
        inFlight++;
        s.submit_sm({ destination_addr: '77011234567', source_addr: 'ZHEDEL', source_addr_ton: 5, dest_addr_ton: 1, dest_addr_npi: 1, short_message: body, data_coding: 8, registered_delivery: 1 }, () => {
          inFlight--;
          done++;
          if (done === n) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await run(1_000); // warm-up, as the service's drain has
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(count);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  s.destroy();
  return { rate: count / secs, cpuUs: (cpu.user + cpu.system) / count };
}

const median = (xs: number[]): number => summary(xs).p50;

/**
 * The drain against its ceiling, as a running service drains: one database and one bind kept
 * from round to round (a first drain, not measured, warms them up: the code compiled, the
 * database's file and log grown to their working size). Rounds alternate the bare loop and the
 * service on the same simulator process, so that a busy spell of the machine weighs on both:
 * medians of the rounds, and their range.
 */
async function drainAgainstBare(engine: Engine, sim: SimProcess, window: number, rounds: number): Promise<void> {
  const s = await openStore({ dbPath: await engine.create(`steady${window}`) });
  const rig = instance(s, sim.url, 'local', window);
  const bare: Array<{ rate: number; cpuUs: number }> = [];
  const ours: Array<{ rate: number; cpuUs: number; serverUs: number | null }> = [];
  try {
    await new Promise<void>((resolve) => {
      rig.session.once('bound', () => resolve());
      rig.session.start();
    });
    const drain = async (): Promise<{ rate: number; cpuUs: number; serverUs: number | null }> => {
      const parts = await queueMessages(s.store, DRAIN, ucs2Text);
      const before = rig.dispatcher.stats.settled;
      const atSim = (await sim.count()).submits;
      global.gc?.();
      const cpu0 = process.cpuUsage();
      const server0 = engine.serverCpuMs();
      const t0 = performance.now();
      await rig.dispatcher.start();
      while (rig.dispatcher.stats.settled < before + DRAIN) {
        if (performance.now() - t0 > 300_000) throw new Error(`${engine.name}: only ${rig.dispatcher.stats.settled - before} of ${DRAIN} messages sent in 5 minutes`);
        await new Promise((res) => setTimeout(res, 5));
      }
      // and written down: the last outcomes are still in the dispatcher's batch
      await rig.dispatcher.flush();
      const secs = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const server1 = engine.serverCpuMs();
      await rig.dispatcher.stop(5_000);
      const sent = (await sim.count()).submits - atSim;
      if (sent !== parts) throw new Error(`${engine.name}: ${sent} parts at the SMSC, ${parts} expected`);
      return {
        rate: DRAIN / secs, cpuUs: (cpu.user + cpu.system) / DRAIN,
        serverUs: server0 !== null && server1 !== null ? ((server1 - server0) * 1000) / DRAIN : null,
      };
    };
    await drain();
    for (let i = 0; i < rounds; i++) {
      bare.push(await bareLoop(sim.url, DRAIN, window));
      ours.push(await drain());
    }
  } finally {
    await rig.dispatcher.stop(5_000);
    await rig.session.stop(1_000);
    await closeStore(s);
  }
  const range = (xs: number[], d = 0): string => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;
  const tag = `SMS drain, window ${window} [${engine.name}]`;
  figure(`${tag}: bare smpp loop`, `${fmt(median(bare.map((b) => b.rate)), 0)} msg/s (${range(bare.map((b) => b.rate))}), CPU ${fmt(median(bare.map((b) => b.cpuUs)), 1)} µs/msg`);
  figure(`${tag}: durable outbox → SMSC`, `${fmt(median(ours.map((b) => b.rate)), 0)} msg/s (${range(ours.map((b) => b.rate))}), CPU ${fmt(median(ours.map((b) => b.cpuUs)), 1)} µs/msg${ours[0]?.serverUs != null ? ` + database server ${fmt(median(ours.map((b) => b.serverUs ?? 0)), 1)} µs/msg` : ''}`);
  const rate = ours.map((o, i) => o.rate / (bare[i]?.rate ?? NaN));
  const cpu = ours.map((o, i) => o.cpuUs / (bare[i]?.cpuUs ?? NaN));
  figure(`${tag}: throughput, ours / bare`, `${fmt(median(rate))} (rounds ${range(rate, 2)}); target ≥ 0.80`);
  figure(`${tag}: CPU per message, ours / bare`, `${fmt(median(cpu))} (rounds ${range(cpu, 2)}); ceiling ≤ 1.25`);
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
  const core = new Core({
    store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys(SECRET), timeZone: 'Asia/Almaty',
    // the rig's dispatcher at the time (a part may put another in its place)
    outboxSignal: { queued: () => r.dispatcher.wake() },
  });
  const outbox = new OutboxStore(db);
  const session = new SmppSession({ url, systemId: 'zhedel', password: 'secret', logger: silent, window: o.window, tps: o.tps ?? 0, responseTimeoutMs: 30_000 });
  const dispatcher = new Dispatcher({
    store: outbox, link: session, clock: systemClock, logger: silent, sender: 'ZHEDEL',
    openText: async (m) => (await core.outboxText({ body: m.body, bodyEnc: m.bodyEnc, secret: m.secret, phone: m.phone }, true)) ?? '',
  });
  session.on('bound', () => r.dispatcher.wake());
  const r: Rig = {
    db, core, outbox, session, dispatcher,
    async close() {
      await r.dispatcher.stop(5_000);
      await session.stop(1_000);
      db.close();
    },
  };
  return r;
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

/** The parts of `npm run bench sms`; `npm run bench sms:latency` (etc.) runs one. */
export const SMS_PARTS = ['drain', 'latency', 'tps', 'memory'] as const;

export async function benchSms(parts: ReadonlyArray<(typeof SMS_PARTS)[number]> = SMS_PARTS): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-sms-'));
  const sim = await SmscSim.start({ systemId: 'zhedel', password: 'secret' });
  const simProcess = await SimProcess.start();
  const server = parts.includes('drain') ? await pgServer() : 'not needed for the parts asked for';
  const engines: Engine[] = [sqliteEngine(dir)];
  let dropPg: () => Promise<void> = () => Promise.resolve();
  if (typeof server === 'string') {
    if (parts.includes('drain')) figure('PostgreSQL figures', `skipped: ${server}`);
  } else {
    const p = await pgEngine(server);
    engines.push(p.engine);
    dropPg = p.drop;
    figure('PostgreSQL server', p.about);
  }
  try {
    // The drain against the bare library loop: the simulator in a process of its own, so that
    // the CPU time measured is the sender's alone.
    for (const engine of parts.includes('drain') ? engines : []) {
      for (const window of [10, 50]) await drainAgainstBare(engine, simProcess, window, ROUNDS);
    }

    // Latency from enqueue to submit_sm_resp under a steady load of 2,000 messages/s.
    if (parts.includes('latency')) {
      const r = rig(dir, 'latency', simProcess.url, { window: 10 });
      // when each answer reached the dispatcher, by the text it answers
      const answeredAt = new Map<string, number>();
      const submit = r.session.submit.bind(r.session);
      r.dispatcher = new Dispatcher({
        store: r.outbox, clock: systemClock, logger: silent, sender: 'ZHEDEL', openText: () => '',
        link: {
          isBound: () => r.session.isBound(),
          submit: async (p) => {
            const outcome = await submit(p);
            answeredAt.set(p.shortMessage.toString('latin1'), performance.now());
            return outcome;
          },
        },
      });
      r.session.start();
      await r.dispatcher.start();
      await new Promise<void>((res) => r.session.once('bound', () => res()));
      const queuedAt = new Map<string, number>();
      const total = 6_000;
      let made = 0;
      const store = new SqliteStore(r.db);
      // 20 messages every 10 ms, queued in one durable transaction (as an alarm queues its SMS
      // to every number; a commit waits for the disk, which here takes 0.2–0.7 ms: one commit per
      // message would leave the disk no time for anything else at 2,000 a second)
      await new Promise<void>((res, rej) => {
        let busy = false;
        const tick = setInterval(() => {
          if (busy) return;
          busy = true;
          void (async () => {
            const at = new Date().toISOString();
            await store.transaction(async (tx) => {
              for (let k = 0; k < 20 && made < total; k++) {
                const text = `lat ${made++}`;
                queuedAt.set(text, performance.now());
                await tx.enqueueSms({ priority: 2, kind: 'bench', phone: '+77011234567', clientId: null, body: text, bodyEnc: null, secret: false, at, expiresAt: null });
              }
            });
            r.dispatcher.wake();
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
      for (const [text, q] of queuedAt) {
        const a = answeredAt.get(text);
        if (a !== undefined) lat.push(a - q);
      }
      if (lat.length !== total) throw new Error(`${lat.length} of ${total} answers seen`);
      const st = summary(lat);
      figure('SMS enqueue → submit_sm_resp at 2,000 msg/s [SQLite], p50 / p99', `${fmt(st.p50)} / ${fmt(st.p99)} ms; ceiling p99 < 20 ms`);
      await r.close();
    }

    // Throughput limit: 100 parts per second for 10 s.
    if (parts.includes('tps')) {
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

    // Memory while 100,000 queued messages drain: every 250 ms the heap is collected and what
    // is still alive measured (the messages and their state held by the dispatcher and the
    // session), and between collections the heap used with its garbage.
    if (parts.includes('memory')) {
      const r = rig(dir, 'memory', simProcess.url, { window: 10 });
      const total = 100_000;
      await enqueue(r, total, (i) => `Queued notice ${i}`);
      global.gc?.();
      const base = process.memoryUsage();
      let live = base.heapUsed;
      let used = base.heapUsed;
      const sampler = setInterval(() => {
        used = Math.max(used, process.memoryUsage().heapUsed);
        global.gc?.();
        live = Math.max(live, process.memoryUsage().heapUsed);
      }, 250);
      r.session.start();
      await r.dispatcher.start();
      await waitSubmitted(r, total, 300_000);
      clearInterval(sampler);
      const rss = process.memoryUsage().rss;
      figure('SMS with 100,000 queued: live heap growth at its peak while draining (after collection)', `${fmt((live - base.heapUsed) / 1048576, 1)} MiB; ceiling < 64 MiB`);
      figure('SMS with 100,000 queued: heap used at its peak, garbage included', fmt((used - base.heapUsed) / 1048576, 1), 'MiB');
      figure('SMS with 100,000 queued: resident set size after the drain', fmt(rss / 1048576, 0), 'MiB');
      await r.close();
    }
  } finally {
    await sim.close();
    await simProcess.stop();
    await dropPg();
    if (typeof server !== 'string') server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
