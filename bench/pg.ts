/**
 * `npm run bench pg`: the same figures on SQLite and on PostgreSQL, in one run on one machine,
 * through the store port (`openStore`), so both engines run the same code above it:
 *  1. durable journalled requests (identify + status + arm), single writer;
 *  2. an SMS drain of queued messages to the SMSC simulator, by one instance and by two
 *     (two stores on one database, two dispatchers with holders a and b, two binds);
 *  3. an alarm for an object with five numbers, intake → last submit_sm_resp.
 *
 * The PostgreSQL server: ZHEDEL_BENCH_PG (the URL of an admin database) when set; otherwise a
 * throw-away cluster with fsync and synchronous_commit on, when the server programs are
 * installed; otherwise the PostgreSQL figures are skipped with one line saying why. Each
 * figure gets a fresh database zhedel_bench_<random>_<figure>, dropped at the end.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import { Core } from '../src/core/core.ts';
import type { Store } from '../src/core/ports.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { Dispatcher } from '../src/sms/dispatcher.ts';
import { SmppSession } from '../src/sms/session.ts';
import { openStore } from '../src/store/index.ts';
import type { OpenStore } from '../src/store/index.ts';
import { findPostgresPrograms, startCluster } from '../scripts/test-prereqs.mjs';
import { SmscSim } from '../test/sim/smsc.ts';
import { loop } from './core.ts';
import { figure, fmt, startSimulator, summary } from './stats.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const silent = pino({ level: 'silent' });
const SMS_DRAINED = 10_000;
/** The drain against an SMSC that answers like a real one (round trip, window of one bind). */
const SLOW_SMSC = { delayMs: 20, window: 10, count: 3_000 };
const CORE_ITERATIONS = 1_000;
const ALARMS = 1_000;

// ------------------------------------------------------------------------------- engines

export interface Engine {
  name: 'SQLite' | 'PostgreSQL';
  /** A new, empty database: its ZHEDEL_DB. */
  create(label: string): Promise<string>;
  /** The same database for seeding it: commits need not wait for the disk (what is seeded is not measured). */
  seeding(dbPath: string): string;
  /** CPU time the database server spent so far (ms), or null when it cannot be read (SQLite: none, it runs in the process). */
  serverCpuMs(): number | null;
}

export function sqliteEngine(dir: string): Engine {
  return {
    name: 'SQLite',
    create: (label) => Promise.resolve(join(dir, `${label}.db`)),
    // a file database commits with synchronous=FULL whoever opens it: seeding it is durable too
    seeding: (dbPath) => dbPath,
    serverCpuMs: () => null,
  };
}

export interface PgServer {
  /** URL of an admin database. */
  url: string;
  /** How the server was found, for the output. */
  origin: string;
  stop(): void;
}

/** The PostgreSQL server for the benchmark, or the reason there is none. */
export async function pgServer(): Promise<PgServer | string> {
  const given = process.env.ZHEDEL_BENCH_PG;
  if (given) return { url: given, origin: 'the server in ZHEDEL_BENCH_PG', stop: () => undefined };
  const programs = findPostgresPrograms();
  if (!programs) {
    return 'ZHEDEL_BENCH_PG is not set and no PostgreSQL server programs (initdb, pg_ctl) are installed: set ZHEDEL_BENCH_PG=postgres://user@host:port/postgres or install the server (apt-get install postgresql)';
  }
  const cluster = await startCluster(programs, { settings: { fsync: 'on', synchronous_commit: 'on' } });
  return { url: cluster.url, origin: 'a throw-away cluster on this machine', stop: () => cluster.stop() };
}

/** CPU ticks (user + system, its reaped children's too) of a process, from /proc/<pid>/stat; null when unreadable. */
function procTicks(pid: number): { ticks: number; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/** Linux's USER_HZ: /proc counts CPU time in hundredths of a second. */
const TICK_MS = 10;

/**
 * The CPU time of a PostgreSQL server on this machine: its postmaster (with the backends it
 * reaped) and every live process it started. Null when the server is not local.
 */
function clusterCpu(postmaster: number): () => number | null {
  return () => {
    const main = procTicks(postmaster);
    if (!main) return null;
    let ticks = main.ticks;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const p = procTicks(Number(name));
      if (p && p.ppid === postmaster) ticks += p.ticks;
    }
    return ticks * TICK_MS;
  };
}

export async function pgEngine(server: PgServer): Promise<{ engine: Engine; about: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 15_000 });
  await admin.connect();
  const info = (await admin.query<{ v: string; fsync: string; sc: string; pid: number }>(
    "SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc, pg_backend_pid() AS pid",
  )).rows[0]!;
  const host = new URL(server.url).hostname;
  const local = host === '' || host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  // the backend's parent is the postmaster, when the server runs on this machine
  const backend = local ? procTicks(info.pid) : null;
  const postmaster = backend && readFileSync(`/proc/${backend.ppid}/comm`, 'utf8').trim() === 'postgres' ? backend.ppid : null;
  const prefix = `zhedel_bench_${randomBytes(4).toString('hex')}`;
  const made: string[] = [];
  const engine: Engine = {
    name: 'PostgreSQL',
    async create(label) {
      const name = `${prefix}_${label}`;
      await admin.query(`CREATE DATABASE ${name}`);
      made.push(name);
      const u = new URL(server.url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    seeding(dbPath) {
      const u = new URL(dbPath);
      u.searchParams.set('options', '-c synchronous_commit=off');
      return u.toString();
    },
    serverCpuMs: postmaster ? clusterCpu(postmaster) : () => null,
  };
  const durable = info.fsync === 'on' && info.sc !== 'off';
  const about = `PostgreSQL ${info.v}, ${server.origin}; fsync=${info.fsync}, synchronous_commit=${info.sc}`
    + (durable ? '' : ' (commits do not wait for the disk: not comparable with SQLite\'s durable commits)')
    + (postmaster ? '' : '; its CPU time cannot be read (not on this machine)');
  return {
    engine, about,
    async drop() {
      for (const name of made) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    },
  };
}

export async function closeStore(s: OpenStore): Promise<void> {
  await s.bus.close();
  await s.admin.close();
}

// ------------------------------------------------------------------------------- 1. core

function newCore(store: Store, extra: Partial<ConstructorParameters<typeof Core>[0]> = {}): Core {
  return new Core({ store, clock: systemClock, random: cryptoRandom, keys: deriveKeys(SECRET), timeZone: 'Asia/Almaty', ...extra });
}

async function benchCoreOn(engine: Engine): Promise<{ rps: number; p50: number; p99: number }> {
  const s = await openStore({ dbPath: await engine.create('core') });
  try {
    const core = newCore(s.store);
    const c = await core.addClient({ name: 'Bench', operator: 'bench' });
    await core.addObject({ clientId: c.id, code: '1234', address: 'Bench street', operator: 'bench' });
    await core.addNumber({ clientId: c.id, phone: '+77011234567', signed: true, operator: 'bench' });
    await loop(core, '+77011234567', 100); // warm-up
    const r = await loop(core, '+77011234567', CORE_ITERATIONS);
    const st = summary(r.latencies);
    const v = await core.verifyJournal();
    if (!v.ok) throw new Error(`${engine.name}: the journal is broken after the benchmark`);
    return { rps: r.requests / r.seconds, p50: st.p50, p99: st.p99 };
  } finally {
    await closeStore(s);
  }
}

// ------------------------------------------------------------------------------- 2. SMS drain

/** The simulator in its own process: its CPU time is not the service's. */
export class SimProcess {
  private constructor(private readonly child: ChildProcess, readonly url: string) {}

  /** `responseDelayMs`: the simulator answers each submit_sm that late (a real SMSC's round trip). */
  static async start(responseDelayMs = 0): Promise<SimProcess> {
    const { child, url } = await startSimulator('bench/smsc-process.ts', [String(responseDelayMs)], 'SMSC simulator');
    return new SimProcess(child, url);
  }

  private ask(what: string): Promise<{ submits: number; cpu?: number }> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as { submits: number; cpu?: number }));
      this.child.send(what);
    });
  }

  count(): Promise<{ submits: number; cpu?: number }> {
    return this.ask('count');
  }

  reset(): Promise<{ submits: number }> {
    return this.ask('reset');
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop');
    await exited;
  }
}

export interface Instance {
  s: OpenStore;
  session: SmppSession;
  dispatcher: Dispatcher;
}

export function instance(s: OpenStore, url: string, holder: string, window = 50): Instance {
  const session = new SmppSession({ url, systemId: 'zhedel', password: 'secret', logger: silent, window, tps: 0, responseTimeoutMs: 30_000 });
  const dispatcher = new Dispatcher({ store: s.outbox, link: session, clock: systemClock, logger: silent, sender: 'ZHEDEL', holder, openText: () => '' });
  session.on('bound', () => dispatcher.wake());
  return { s, session, dispatcher };
}

/** N messages queued, as bench/sms.ts queues them: every tenth two UCS-2 parts, a third of them alarms. */
export async function queueMessages(store: Store, n: number, text?: (i: number) => string): Promise<number> {
  const at = new Date().toISOString();
  for (let from = 0; from < n; from += 1_000) {
    await store.transaction(async (tx) => {
      for (let j = from; j < Math.min(n, from + 1_000); j++) {
        await tx.enqueueSms({
          priority: j % 3 === 0 ? 1 : 2, kind: 'bench', phone: '+77011234567', clientId: null,
          body: text ? text(j) : j % 10 === 0 ? `Длинное сообщение номер ${j}: ${'Ж'.repeat(80)}` : `Bench message ${j}`,
          bodyEnc: null, secret: false, at, expiresAt: null,
        });
      }
    });
  }
  return text ? n : n + Math.ceil(n / 10);
}

export interface DrainFigures {
  rate: number;
  /** CPU of this process (every instance in it; the simulator runs in its own), µs per message. */
  cpuUs: number;
  /** CPU of the database server, µs per message, or null. */
  serverUs: number | null;
  /** CPU of the simulator's process, µs per message. */
  simUs: number;
  /** How busy the machine's cores were meanwhile (everything on it), 0–1. */
  busy: number;
}

/** CPU time of every core of the machine so far: busy and total (ms). */
export function machineCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    total += t;
    busy += t - c.times.idle;
  }
  return { busy, total };
}

/** Messages each instance sends before the measured drain, on the same connections and binds. */
const WARM_UP = 1_000;

/**
 * Drains `SMS_COUNT` queued messages with `instances` instances on one new database. Each
 * instance first sends a warm-up batch of its own (not measured) on the connections and the
 * bind it then drains with, so that neither engine's figure pays for compiling the code they
 * share or for the first use of new server connections; the dispatchers are stopped while the
 * measured batch is queued, and started together to drain it.
 */
let drains = 0;

export async function drainOn(engine: Engine, sim: SimProcess, instances: 1 | 2, o: { count?: number; window?: number; text?: (i: number) => string } = {}): Promise<DrainFigures> {
  const SMS_COUNT = o.count ?? SMS_DRAINED;
  const dbPath = await engine.create(`drain${instances}${o.window ? `w${o.window}` : ''}n${++drains}`);
  const queue = async (n: number): Promise<number> => {
    const seed = await openStore({ dbPath: engine.seeding(dbPath) });
    try {
      return await queueMessages(seed.store, n, o.text);
    } finally {
      await closeStore(seed);
    }
  };
  const rigs: Instance[] = [];
  const settled = (): number => rigs.reduce((n, r) => n + r.dispatcher.stats.settled, 0);
  const drained = async (n: number, since: number): Promise<void> => {
    while (settled() < n) {
      if (performance.now() - since > 300_000) throw new Error(`${engine.name}: only ${settled()} of ${n} messages sent in 5 minutes`);
      await new Promise((res) => setTimeout(res, 5));
    }
    // and written down: the last outcomes are still in the dispatchers' batch
    await Promise.all(rigs.map((r) => r.dispatcher.flush()));
  };
  try {
    for (const holder of ['a', 'b'].slice(0, instances)) rigs.push(instance(await openStore({ dbPath }), sim.url, holder, o.window));
    await Promise.all(rigs.map((r) => new Promise<void>((resolve) => {
      r.session.once('bound', () => resolve());
      r.session.start();
    })));
    // the warm-up: one dispatcher at a time, so that each sends a batch of its own
    for (const [i, r] of rigs.entries()) {
      await queue(WARM_UP);
      await r.dispatcher.start();
      await drained(WARM_UP * (i + 1), performance.now());
      await r.dispatcher.stop(5_000);
    }
    const before = settled();
    const parts = await queue(SMS_COUNT);
    await sim.reset();
    global.gc?.();
    const sim0 = (await sim.count()).cpu ?? 0;
    const machine0 = machineCpu();
    const cpu0 = process.cpuUsage();
    const server0 = engine.serverCpuMs();
    const t0 = performance.now();
    await Promise.all(rigs.map((r) => r.dispatcher.start()));
    await drained(before + SMS_COUNT, t0);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const server1 = engine.serverCpuMs();
    const machine1 = machineCpu();
    const atSim = await sim.count();
    if (atSim.submits !== parts) throw new Error(`${engine.name}: ${atSim.submits} parts at the SMSC, ${parts} expected`);
    const counts = await rigs[0]!.s.outbox.counts();
    if ((counts.submitted ?? 0) !== SMS_COUNT + WARM_UP * instances) throw new Error(`${engine.name}: ${JSON.stringify(counts)} after the drain`);
    if (instances === 2 && rigs.some((r) => r.dispatcher.stats.settled === WARM_UP)) throw new Error(`${engine.name}: one of the instances sent nothing`);
    return {
      rate: SMS_COUNT / secs,
      cpuUs: (cpu.user + cpu.system) / SMS_COUNT,
      serverUs: server0 !== null && server1 !== null ? ((server1 - server0) * 1000) / SMS_COUNT : null,
      simUs: ((atSim.cpu ?? 0) - sim0) / SMS_COUNT,
      busy: (machine1.busy - machine0.busy) / (machine1.total - machine0.total),
    };
  } finally {
    for (const r of rigs) {
      await r.dispatcher.stop(5_000);
      await r.session.stop(1_000);
      await closeStore(r.s);
    }
  }
}

// ------------------------------------------------------------------------------- 3. alarms

const phone = (i: number): string => `+7701${String(i).padStart(7, '0')}`;

/** One alarm for an object with five numbers, intake → last submit_sm_resp (as bench/alarms.ts), 1,000 alarms at about 100/s. */
async function alarmsOn(engine: Engine, sim: SmscSim): Promise<{ p50: number; p99: number }> {
  const dbPath = await engine.create('alarms');
  {
    const seed = await openStore({ dbPath: engine.seeding(dbPath) });
    try {
      const core = newCore(seed.store);
      for (let i = 0; i < ALARMS; i++) {
        const c = await core.addClient({ name: `C${i}`, lang: 'ru', services: [], operator: 'bench' });
        await core.addObject({ clientId: c.id, code: String(100000 + i), address: `Улица ${i}`, operator: 'bench' });
        for (let k = 0; k < 5; k++) await core.addNumber({ clientId: c.id, phone: phone(i * 5 + k), signed: true, operator: 'bench' });
      }
    } finally {
      await closeStore(seed);
    }
  }
  const s = await openStore({ dbPath });
  let wake: () => void = () => undefined;
  const core = newCore(s.store, { outboxSignal: { queued: () => wake() }, alarmGroupMs: 0 });
  const session = new SmppSession({ url: sim.url, systemId: 'zhedel', password: 'secret', logger: silent, window: 50, tps: 0 });
  const dispatcher = new Dispatcher({ store: s.outbox, link: session, clock: systemClock, logger: silent, sender: 'ZHEDEL', openText: () => '' });
  session.on('bound', () => dispatcher.wake());
  wake = () => dispatcher.wake();
  try {
    session.start();
    await dispatcher.start();
    await new Promise((res) => setTimeout(res, 300));
    const before = sim.submits.length;
    const sentAt = new Map<string, number>();
    for (let i = 0; i < ALARMS; i++) {
      const code = String(100000 + i);
      sentAt.set(code, Date.now());
      await core.recordMonitoringEvent({ sourceId: `lat-${i}`, objectCode: code, type: 'alarm', kind: 'burglary', zone: 1, eventAt: null });
      if (i % 10 === 9) await new Promise((res) => setTimeout(res, 10)); // about 100 alarms/s
    }
    const t = Date.now();
    while (sim.submits.length - before < ALARMS * 5) {
      if (Date.now() - t > 60_000) throw new Error(`${engine.name}: ${sim.submits.length - before} of ${ALARMS * 5} alarm SMS at the SMSC after a minute`);
      await new Promise((res) => setTimeout(res, 20));
    }
    const last = new Map<string, number>();
    for (const x of sim.submits.slice(before)) {
      const code = /ТРЕВОГА (\d+)/.exec(x.text ?? '')?.[1];
      if (code) last.set(code, Math.max(last.get(code) ?? 0, x.at));
    }
    const st = summary([...last.entries()].map(([code, at]) => at - (sentAt.get(code) ?? at)));
    return { p50: st.p50, p99: st.p99 };
  } finally {
    await dispatcher.stop(5_000);
    await session.stop(1_000);
    await closeStore(s);
  }
}

// ------------------------------------------------------------------------------- the run

type Row = [string, ...string[]];

export async function benchPg(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-pg-'));
  const server = await pgServer();
  const engines: Engine[] = [sqliteEngine(dir)];
  let dropPg: () => Promise<void> = () => Promise.resolve();
  if (typeof server === 'string') {
    figure('PostgreSQL figures', `skipped: ${server}`);
  } else {
    const p = await pgEngine(server);
    engines.push(p.engine);
    dropPg = p.drop;
    figure('PostgreSQL server', p.about);
  }
  figure('SQLite', 'a file on local disk, WAL, synchronous=FULL');
  const table: Row[] = [];
  const row = (name: string, values: string[]): void => {
    table.push([name, ...values]);
  };
  const label = (e: Engine, name: string): string => `${name} [${e.name}]`;
  const sim = await SimProcess.start();
  const inSim = await SmscSim.start({ systemId: 'zhedel', password: 'secret' });
  try {
    // 1. durable requests through Core over the port
    const core: Array<{ rps: number; p50: number; p99: number }> = [];
    for (const e of engines) {
      const r = await benchCoreOn(e);
      core.push(r);
      figure(label(e, 'core durable requests/s (single writer)'), fmt(r.rps, 0), 'req/s');
      figure(label(e, 'core request latency p50 / p99 (single writer)'), `${fmt(r.p50)} / ${fmt(r.p99)}`, 'ms');
    }
    row('durable journalled requests/s, single writer', core.map((r) => fmt(r.rps, 0)));
    row('request latency p50 / p99, ms', core.map((r) => `${fmt(r.p50)} / ${fmt(r.p99)}`));

    // 2. the SMS drain, one instance and two
    for (const n of [1, 2] as const) {
      const drains: DrainFigures[] = [];
      for (const e of engines) {
        const d = await drainOn(e, sim, n);
        drains.push(d);
        const what = `SMS drain of ${SMS_DRAINED.toLocaleString('en')} messages, ${n === 1 ? 'one instance' : 'two instances'}`;
        figure(label(e, `${what}`), fmt(d.rate, 0), 'msg/s');
        figure(label(e, `${what}, CPU of the service process per message (simulator apart)`), fmt(d.cpuUs, 0), 'µs');
        if (d.serverUs !== null) figure(label(e, `${what}, CPU of the database server per message`), fmt(d.serverUs, 0), 'µs');
        figure(label(e, `${what}, CPU of the simulator per message`), fmt(d.simUs, 0), 'µs');
        figure(label(e, `${what}, the machine's ${cpus().length} cores busy (everything on it)`), fmt(d.busy * 100, 0), '%');
      }
      const inst = n === 1 ? 'one instance' : 'two instances on one database';
      row(`SMS drain, ${inst}, msg/s`, drains.map((d) => fmt(d.rate, 0)));
      row('… CPU per message: service process / database server / simulator, µs', drains.map((d) => `${fmt(d.cpuUs, 0)} / ${d.serverUs === null ? '–' : fmt(d.serverUs, 0)} / ${fmt(d.simUs, 0)}`));
      row(`… the machine's ${cpus().length} cores busy`, drains.map((d) => `${fmt(d.busy * 100, 0)} %`));
    }

    // 2b. the same drain when each bind is bound by the SMSC's round trip (as a real one is), not by CPU
    const slowSim = await SimProcess.start(SLOW_SMSC.delayMs);
    try {
      for (const n of [1, 2] as const) {
        const drains: DrainFigures[] = [];
        for (const e of engines) {
          const d = await drainOn(e, slowSim, n, { count: SLOW_SMSC.count, window: SLOW_SMSC.window });
          drains.push(d);
          figure(label(e, `SMS drain of ${SLOW_SMSC.count.toLocaleString('en')} messages, SMSC answering after ${SLOW_SMSC.delayMs} ms, window ${SLOW_SMSC.window}, ${n === 1 ? 'one instance' : 'two instances'}`), fmt(d.rate, 0), 'msg/s');
        }
        row(`SMS drain, SMSC answering after ${SLOW_SMSC.delayMs} ms (window ${SLOW_SMSC.window} per bind), ${n === 1 ? 'one instance' : 'two instances'}, msg/s`, drains.map((d) => fmt(d.rate, 0)));
      }
    } finally {
      await slowSim.stop();
    }

    // 3. alarm → last SMS
    const alarms: Array<{ p50: number; p99: number }> = [];
    for (const e of engines) {
      const a = await alarmsOn(e, inSim);
      alarms.push(a);
      figure(label(e, 'alarm with 5 numbers, intake → last submit_sm_resp, p50 / p99 over 1,000 alarms'), `${fmt(a.p50, 1)} / ${fmt(a.p99, 1)}`, 'ms');
    }
    row('alarm with 5 numbers → last submit_sm_resp, p50 / p99, ms', alarms.map((a) => `${fmt(a.p50, 1)} / ${fmt(a.p99, 1)}`));

    process.stdout.write(`\n| figure | ${engines.map((e) => e.name).join(' | ')} |\n| --- |${engines.map(() => ' --- |').join('')}\n`);
    for (const r of table) process.stdout.write(`| ${r.join(' | ')} |\n`);
  } finally {
    await inSim.close();
    await sim.stop();
    await dropPg();
    if (typeof server !== 'string') server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
