import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { createLogger } from '../src/logger.ts';
import { openDb } from '../src/store/db.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { AriLink } from '../src/telephony/ari-link.ts';
import type { AriEvent } from '../src/telephony/ari-link.ts';
import { Telephony } from '../src/telephony/service.ts';
import type { Burst, BurstResult } from './asterisk-process.ts';
import { figure, fmt, seed, startSimulator, summary } from './stats.ts';

/** 2,000 calls arriving over 4 s: 50 every 100 ms. */
const BURST: Burst = { calls: 2_000, batch: 50, everyMs: 100 };
/** Playbacks per call in the pass over the ARI link alone: with the answer and the hang-up, the 8 requests of a robot's call here. */
const LINK_PLAYS = 6;
const CEILING = { startP99Ms: 100, keyP99Ms: 50, errors: 0, heapPerCallKiB: 64 };

/** The Asterisk simulator in its own process (bench/asterisk-process.ts). */
class SimProcess {
  private constructor(private readonly child: ChildProcess, readonly url: string) {}

  static async start(): Promise<SimProcess> {
    const { child, url } = await startSimulator('bench/asterisk-process.ts', [], 'Asterisk simulator');
    return new SimProcess(child, url);
  }

  private ask(m: object): Promise<BurstResult> {
    return new Promise((resolve) => {
      this.child.once('message', (r) => resolve((r as { done: BurstResult }).done));
      this.child.send(m);
    });
  }

  /** Scripted calls for the application `zhedel`. */
  burst(b: Burst): Promise<BurstResult> {
    return this.ask({ burst: b });
  }

  /** Calls for the application `app`, which nobody plays; done when all have ended. */
  bare(b: Burst, app: string): Promise<BurstResult> {
    return this.ask({ bare: { ...b, app } });
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop');
    await exited;
  }
}

/**
 * The ARI link alone, without the robot and the store: the same calls on the same schedule, each
 * answered, then `plays` playbacks of two media one after the other, then hung up — the REST
 * requests and events of a robot's call. Returns the CPU time of this process per call, ms.
 */
async function linkAlone(sim: SimProcess, plays: number): Promise<{ cpuPerCallMs: number; errors: number }> {
  const app = 'bench-link';
  const link = new AriLink({ url: sim.url, user: 'zhedel', password: 'secret', app, logger: createLogger('silent') });
  let errors = 0;
  const left = new Map<string, number>();
  const play = (id: string): void => {
    const n = left.get(id) ?? 0;
    left.set(id, n - 1);
    const next = n > 0 ? link.play(id, ['sound:zhedel/ru/status-armed', 'sound:zhedel/ru/main-menu'], `${id}-pb${n}`, 'ru') : link.hangup(id);
    next.catch(() => {
      errors++;
    });
  };
  link.on('event', (e: AriEvent) => {
    if (e.type === 'StasisStart' && e.channel) {
      const id = e.channel.id;
      left.set(id, plays);
      link.answer(id).then(() => play(id), () => {
        errors++;
      });
    } else if (e.type === 'PlaybackFinished' && e.playback) {
      play(e.playback.id.replace(/-pb\d+$/, ''));
    }
  });
  link.start();
  try {
    if (!(await link.whenConnected(30_000))) throw new Error('the ARI link did not connect to the Asterisk simulator');
    const cpu0 = process.cpuUsage();
    const r = await sim.bare(BURST, app);
    const cpu = process.cpuUsage(cpu0);
    return { cpuPerCallMs: (cpu.user + cpu.system) / 1000 / BURST.calls, errors: errors + r.errors };
  } finally {
    await link.stop();
  }
}

const pq = (s: number[]): string => {
  const x = summary(s);
  return `${fmt(x.p50, 1)} / ${fmt(x.p99, 1)}`;
};

/**
 * 2,000 scripted calls (identify, status, arm) arriving over 4 s against the Asterisk simulator,
 * which runs in a process of its own: how fast the robot answers StasisStart and each key, the
 * CPU time of the robot's process per call, memory per call, errors, and whether memory returns
 * to its baseline afterwards.
 */
export async function benchCalls(): Promise<void> {
  const n = BURST.calls;
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-calls-'));
  const db = openDb(join(dir, 'calls.db'));
  const store = new SqliteStore(db);
  const core = new Core({ store, clock: systemClock, random: cryptoRandom, keys: deriveKeys('bench-secret-'.repeat(4)), timeZone: 'Asia/Almaty' });
  const sim = await SimProcess.start();
  const tel = new Telephony({
    url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', calloutEndpoint: 'PJSIP/{number}@trunk',
    core, clock: systemClock, timeZone: 'Asia/Almaty', logger: createLogger('silent'),
  });
  try {
    await seed(db, async () => {
      for (let i = 0; i < n; i++) {
        const c = await core.addClient({ name: `Client ${i}`, lang: i % 2 ? 'kk' : 'ru', operator: 'bench' });
        await core.addObject({ clientId: c.id, code: String(100000 + i), address: `Street ${i}`, operator: 'bench' });
        await core.addNumber({ clientId: c.id, phone: `+7701${String(1000000 + i).padStart(7, '0')}`, signed: true, operator: 'bench' });
      }
    });
    tel.start();
    if (!(await tel.link.whenConnected(30_000))) throw new Error('the robot did not connect to the Asterisk simulator');
    global.gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const base = process.memoryUsage().heapUsed;

    let peak = 0;
    let peakCalls = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
      peakCalls = Math.max(peakCalls, tel.activeCalls);
    }, 50);
    const commits0 = { ...store.commits };
    const cpu0 = process.cpuUsage();
    const r = await sim.burst(BURST);
    while (tel.activeCalls > 0) await new Promise((res) => setTimeout(res, 20));
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);

    const armed = (await core.listObjects()).filter((o) => o.status === 'armed').length;
    const cpuPerCall = (cpu.user + cpu.system) / 1000 / n;
    const heapPerCall = (peak - base) / n / 1024;
    figure(`calls: ${n} calls (identify, status, arm), ${BURST.batch} every ${BURST.everyMs} ms, all done in`, fmt(r.elapsedMs / 1000, 1), 's');
    figure('calls: most calls in progress at once', peakCalls);
    figure('calls: StasisStart → answer request p50 / p99', pq(r.answers), 'ms');
    figure('calls: StasisStart → first playback request p50 / p99 / ceiling', `${pq(r.starts)} / ${CEILING.startP99Ms}`, 'ms');
    figure('calls: DTMF event → next robot request p50 / p99 / ceiling', `${pq(r.afterKey)} / ${CEILING.keyP99Ms}`, 'ms');
    figure('calls: DTMF event → next playback request p50 / p99', pq(r.afterKeyPlay), 'ms');
    figure('calls: errors / ceiling', `${r.errors} / ${CEILING.errors} (objects armed: ${armed}/${n})`);
    figure('calls: heap per call at peak / ceiling', `${fmt(heapPerCall, 1)} / ${CEILING.heapPerCallKiB}`, 'KiB');
    figure('calls: CPU time of the robot\'s process per call', fmt(cpuPerCall, 3), 'ms');
    const groups = store.commits.groups - commits0.groups;
    const txs = store.commits.transactions - commits0.transactions;
    figure('calls: durable commits during the burst / write transactions in them', `${groups} / ${txs} (${fmt(txs / groups, 1)} per commit)`);
    figure('calls: CPU time of the simulator\'s process per call (for scale)', fmt(r.cpuUs / 1000 / n, 3), 'ms');
    global.gc?.();
    await new Promise((res) => setTimeout(res, 300));
    global.gc?.();
    figure('calls: heap after the calls, above the baseline before them', fmt((process.memoryUsage().heapUsed - base) / 1048576, 2), 'MiB');
    figure('calls: ARI requests / events per call', `${fmt(r.requestsPerCall, 1)} / ${fmt(r.eventsPerCall, 1)}`);

    const bare = await linkAlone(sim, LINK_PLAYS);
    figure(`calls: CPU time per call of the ARI link alone (answer, ${LINK_PLAYS} playbacks, hang-up; no robot, no store)`, fmt(bare.cpuPerCallMs, 3), `ms (errors: ${bare.errors})`);
  } finally {
    await tel.stop(1_000);
    await sim.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
