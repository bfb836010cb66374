/**
 * The Asterisk simulator in a process of its own, for the calls benchmark: the CPU time of the
 * robot's process is then the robot's alone. Quiet; talks over the IPC channel: sends { url }
 * once listening; on { burst } places that many scripted calls (identify, status, arm) in
 * batches and answers { done } with the latencies it saw, measured on its own clock between the
 * events it sent and the requests it received; on { bare } places calls for the application
 * `bare.app` on the same schedule, plays no caller, and answers { done } once every one of them
 * has ended; ends on 'stop' or when its parent goes away.
 */
import { AsteriskSim } from '../test/sim/asterisk.ts';
import type { SimCall } from '../test/sim/asterisk.ts';

export interface Burst {
  calls: number;
  /** Calls placed together, every `everyMs`. */
  batch: number;
  everyMs: number;
}

export interface BurstResult {
  errors: number;
  elapsedMs: number;
  /** REST requests and events, per call. */
  requestsPerCall: number;
  eventsPerCall: number;
  /** StasisStart → the answer request, per call. */
  answers: number[];
  /** StasisStart → the first playback request, per call. */
  starts: number[];
  /** ChannelDtmfReceived → the next request about that channel (a stop or a playback). */
  afterKey: number[];
  /** ChannelDtmfReceived → the next playback request on that channel. */
  afterKeyPlay: number[];
  /** The simulator's own CPU time during the burst, µs. */
  cpuUs: number;
}

const sim = await AsteriskSim.start({ playbackMs: 200 });
const send = (m: object): void => {
  process.send?.(m);
};

async function script(call: SimCall): Promise<boolean> {
  try {
    await call.waitForPrompt('main-menu', 60_000);
    await call.press('1');
    await call.waitForPrompt('confirm-arm', 60_000);
    await call.press('1');
    await call.waitForPrompt('armed-ok', 60_000);
    call.hangup();
    return true;
  } catch {
    call.hangup();
    return false;
  }
}

/** The channel a request is about: /channels/{id}/… or /playbacks/{id}-pbN. */
function channelOf(path: string): string | null {
  const c = /^\/ari\/channels\/([^/]+)/.exec(path);
  if (c) return decodeURIComponent(c[1] as string);
  const p = /^\/ari\/playbacks\/([^/]+)$/.exec(path);
  return p ? decodeURIComponent(p[1] as string).replace(/-pb\d+$/, '') : null;
}

function latencies(): Pick<BurstResult, 'answers' | 'starts' | 'afterKey' | 'afterKeyPlay'> {
  const byChannel = new Map<string, Array<{ at: number; kind: 'answer' | 'play' | 'other' }>>();
  for (const r of sim.requests) {
    const id = channelOf(r.path);
    if (!id) continue;
    const kind = r.path.endsWith('/answer') ? 'answer' : /\/play(\/|$)/.test(r.path) ? 'play' : 'other';
    let list = byChannel.get(id);
    if (!list) byChannel.set(id, (list = []));
    list.push({ at: r.at, kind });
  }
  const out = { answers: [] as number[], starts: [] as number[], afterKey: [] as number[], afterKeyPlay: [] as number[] };
  const next = (id: string, at: number, kind?: 'answer' | 'play'): number | undefined =>
    byChannel.get(id)?.find((r) => r.at >= at && (!kind || r.kind === kind))?.at;
  for (const e of sim.events) {
    if (!e.channelId) continue;
    if (e.type === 'StasisStart') {
      const a = next(e.channelId, e.at, 'answer');
      const p = next(e.channelId, e.at, 'play');
      if (a !== undefined) out.answers.push(a - e.at);
      if (p !== undefined) out.starts.push(p - e.at);
    } else if (e.type === 'ChannelDtmfReceived') {
      const any = next(e.channelId, e.at);
      const p = next(e.channelId, e.at, 'play');
      if (any !== undefined) out.afterKey.push(any - e.at);
      if (p !== undefined) out.afterKeyPlay.push(p - e.at);
    }
  }
  return out;
}

/** Places `b.calls` calls in batches on a fixed schedule and waits for what `run` makes of each. */
async function place(b: Burst, app: string, run: (call: SimCall) => Promise<boolean>): Promise<Pick<BurstResult, 'errors' | 'elapsedMs' | 'cpuUs' | 'requestsPerCall' | 'eventsPerCall'>> {
  sim.requests.length = 0;
  sim.events.length = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runs: Array<Promise<boolean>> = [];
  for (let i = 0; i < b.calls; i++) {
    runs.push(run(sim.call({ number: `87011${String(1000000 + i).slice(1)}`, app })));
    if ((i + 1) % b.batch === 0 && i + 1 < b.calls) {
      // batches on a fixed schedule from the start, whatever the time the previous one took
      const due = t0 + ((i + 1) / b.batch) * b.everyMs;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
  }
  const ok = await Promise.all(runs);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    errors: ok.filter((v) => !v).length, elapsedMs, cpuUs: cpu.user + cpu.system,
    requestsPerCall: sim.requests.length / b.calls, eventsPerCall: sim.events.length / b.calls,
  };
}

async function burst(b: Burst): Promise<BurstResult> {
  const r = await place(b, 'zhedel', script);
  return { ...r, ...latencies() };
}

/** Calls nobody plays: each ends when the application hangs up (or after a minute, as an error). */
async function bare(b: Burst & { app: string }): Promise<BurstResult> {
  const r = await place(b, b.app, (call) => call.waitForEnd(60_000).then(() => true, () => {
    call.hangup();
    return false;
  }));
  return { ...r, answers: [], starts: [], afterKey: [], afterKeyPlay: [] };
}

send({ url: sim.url });
process.on('message', (m) => {
  if (typeof m === 'object' && m && 'burst' in m) {
    void burst((m as { burst: Burst }).burst).then((done) => send({ done }));
  } else if (typeof m === 'object' && m && 'bare' in m) {
    void bare((m as { bare: Burst & { app: string } }).bare).then((done) => send({ done }));
  } else if (m === 'stop') {
    void sim.close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => {
  void sim.close().finally(() => process.exit(0));
});
