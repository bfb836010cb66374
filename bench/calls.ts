import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Core } from '../src/core/core.ts';
import { cryptoRandom, systemClock } from '../src/core/system.ts';
import { deriveKeys } from '../src/domain/crypto.ts';
import { createLogger } from '../src/logger.ts';
import { openDb } from '../src/store/db.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { Telephony } from '../src/telephony/service.ts';
import { AsteriskSim } from '../test/sim/asterisk.ts';
import type { SimCall } from '../test/sim/asterisk.ts';
import { figure, fmt, seed, summary } from './stats.ts';

const CALLS = 500;

/**
 * 500 simultaneous scripted calls against the Asterisk simulator (identify, status, arm):
 * how fast the robot answers StasisStart and each key, memory per call, errors, and whether
 * memory returns to its baseline afterwards.
 */
export async function benchCalls(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-bench-calls-'));
  const db = openDb(join(dir, 'calls.db'));
  const core = new Core({ store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys('bench-secret-'.repeat(4)), timeZone: 'Asia/Almaty' });
  const sim = await AsteriskSim.start({ playbackMs: 200 });
  const tel = new Telephony({
    url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', calloutEndpoint: 'PJSIP/{number}@trunk',
    core, clock: systemClock, timeZone: 'Asia/Almaty', logger: createLogger('silent'),
  });
  try {
    await seed(db, async () => {
      for (let i = 0; i < CALLS; i++) {
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

    const calls: SimCall[] = [];
    const t0 = Date.now();
    let peak = 0;
    let peakCalls = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
      peakCalls = Math.max(peakCalls, tel.activeCalls);
    }, 50);
    // calls arrive over about two seconds (250 a second) and each lasts several seconds, so all
    // 500 are in progress at once
    for (let i = 0; i < CALLS; i++) {
      calls.push(sim.call({ number: `87011${String(1000000 + i).slice(1)}` }));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 40));
    }
    let errors = 0;
    await Promise.all(calls.map(async (call) => {
      try {
        await call.waitForPrompt('main-menu', 60_000);
        await call.press('1');
        await call.waitForPrompt('confirm-arm', 60_000);
        await call.press('1');
        await call.waitForPrompt('armed-ok', 60_000);
        call.hangup();
      } catch {
        errors++;
        call.hangup();
      }
    }));
    const elapsed = Date.now() - t0;
    clearInterval(sampler);
    while (tel.activeCalls > 0) await new Promise((r) => setTimeout(r, 20));

    // StasisStart → first play request, and ChannelDtmfReceived → next request on that channel.
    const starts: number[] = [];
    const afterKey: number[] = [];
    const byChannel = new Map<string, number[]>();
    for (const r of sim.requests) {
      const m = /\/channels\/([^/]+)\/(?:play|answer)/.exec(r.path);
      if (!m) continue;
      const list = byChannel.get(m[1] as string) ?? [];
      if (r.path.includes('/play')) list.push(r.at);
      byChannel.set(m[1] as string, list);
    }
    for (const e of sim.events) {
      if (!e.channelId) continue;
      const plays = byChannel.get(e.channelId) ?? [];
      const next = plays.find((t) => t >= e.at);
      if (next === undefined) continue;
      if (e.type === 'StasisStart') starts.push(next - e.at);
      if (e.type === 'ChannelDtmfReceived') afterKey.push(next - e.at);
    }
    const answers: number[] = [];
    for (const e of sim.events) {
      if (e.type !== 'StasisStart' || !e.channelId) continue;
      const a = sim.requests.find((r) => r.path.endsWith(`${e.channelId}/answer`));
      if (a) answers.push(a.at - e.at);
    }
    const s0 = summary(answers);
    figure('calls: StasisStart → answer request p50 / p99', `${fmt(s0.p50, 1)} / ${fmt(s0.p99, 1)}`, 'ms');
    const s1 = summary(starts);
    const s2 = summary(afterKey);
    const armed = (await core.listObjects()).filter((o) => o.status === 'armed').length;
    figure(`calls: ${CALLS} calls (identify, status, arm) arriving over 2 s, all done in`, fmt(elapsed / 1000, 1), 's');
    figure('calls: most calls in progress at once', peakCalls);
    figure('calls: StasisStart → first playback request p50 / p99', `${fmt(s1.p50, 1)} / ${fmt(s1.p99, 1)}`, 'ms');
    figure('calls: DTMF event → next robot request p50 / p99', `${fmt(s2.p50, 1)} / ${fmt(s2.p99, 1)}`, 'ms');
    figure('calls: errors', `${errors} (objects armed: ${armed}/${CALLS})`);
    figure('calls: heap per call at peak', fmt((peak - base) / CALLS / 1024, 1), 'KiB');
    global.gc?.();
    await new Promise((r) => setTimeout(r, 300));
    global.gc?.();
    figure('calls: heap after the calls, above the baseline before them', fmt((process.memoryUsage().heapUsed - base) / 1048576, 2), 'MiB');
  } finally {
    await tel.stop(1_000);
    await sim.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
