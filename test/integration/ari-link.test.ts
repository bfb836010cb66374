import { once } from 'node:events';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AriError, AriLink } from '../../src/telephony/ari-link.ts';
import type { AriEvent, AriLinkOptions } from '../../src/telephony/ari-link.ts';
import { AsteriskSim } from '../sim/asterisk.ts';
import { until } from '../support/sms-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A logger whose lines are kept, to check what the link writes. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function simulator(): Promise<AsteriskSim> {
  const sim = await AsteriskSim.start({ playbackMs: 20 });
  cleanups.push(() => sim.close());
  return sim;
}

function link(sim: { url: string }, o: Partial<AriLinkOptions> = {}): { link: AriLink; events: AriEvent[]; lines: string[] } {
  const { logger, lines } = capturingLogger();
  const l = new AriLink({ url: sim.url, user: 'zhedel', password: 'secret', app: 'zhedel', logger, retryDelaysMs: [50, 100], ...o });
  const events: AriEvent[] = [];
  l.on('event', (e: AriEvent) => events.push(e));
  cleanups.push(() => l.stop());
  return { link: l, events, lines };
}

async function connected(sim: AsteriskSim, o: Partial<AriLinkOptions> = {}): Promise<ReturnType<typeof link>> {
  const r = link(sim, o);
  r.link.start();
  expect(await r.link.whenConnected(5_000)).toBe(true);
  return r;
}

async function rejection(p: Promise<unknown>): Promise<AriError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AriError);
    return e as AriError;
  }
  throw new Error('expected a rejection');
}

/** An answered call-out with the given channel id, in Stasis. */
async function channel(sim: AsteriskSim, l: AriLink, channelId: string) {
  await l.originate({ endpoint: 'PJSIP/77011234567@trunk', channelId, timeoutSec: 30, appArgs: ['callout', 'x y'] });
  return until(() => sim.answered.find((c) => c.id === channelId), 3_000, `channel ${channelId} in Stasis`);
}

describe('ARI link (REST over HTTP keep-alive, events over WebSocket) against the Asterisk simulator', () => {
  it('wrong credentials: not connected, a clear lastError, no password in the logs', async () => {
    const sim = await simulator();
    const { link: l, lines } = link(sim, { password: 'wrong-password' });
    let connects = 0;
    l.on('connected', () => connects++);
    l.start();
    await until(() => l.lastError?.includes('refused the credentials'), 3_000, 'lastError');
    expect(l.lastError).toContain('HTTP 401');
    expect(l.isConnected()).toBe(false);
    expect(await l.whenConnected(300)).toBe(false);
    expect(connects).toBe(0);
    expect(sim.connectedApps()).toEqual([]);
    // it keeps trying: the credentials may be fixed on the Asterisk side
    const asked = sim.requests.filter((r) => r.path === '/ari/asterisk/info').length;
    await until(() => sim.requests.filter((r) => r.path === '/ari/asterisk/info').length > asked, 3_000, 'another attempt');
    const log = lines.join('');
    expect(log).toContain('refused the credentials');
    expect(log).toContain(sim.url);
    expect(log).not.toContain('wrong-password');
    expect(log).not.toContain(Buffer.from('zhedel:wrong-password').toString('base64'));
  });

  it('connection refused: retries until Asterisk appears, then connects', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const { link: l } = link({ url: `http://127.0.0.1:${port}` });
    l.start();
    await until(() => l.lastError?.includes('ECONNREFUSED'), 3_000, 'ECONNREFUSED');
    expect(l.isConnected()).toBe(false);
    const e = await rejection(l.answer('any'));
    expect(e.status).toBeNull();
    expect(e.gone).toBe(false);
    const sim = await AsteriskSim.start({ port });
    cleanups.push(() => sim.close());
    expect(await l.whenConnected(5_000)).toBe(true);
    expect(l.lastError).toBeNull();
    expect(sim.connectedApps()).toEqual(['zhedel']);
  });

  it('reconnects after the simulator drops every WebSocket and after a full restart; REST works again', async () => {
    const sim = await simulator();
    const { link: l, events } = await connected(sim);
    await l.answer(sim.call({ number: '87011234567' }).id); // a kept-alive HTTP connection now exists

    const lost = once(l, 'disconnected');
    sim.dropWebSockets();
    await lost;
    expect(l.isConnected()).toBe(false);
    expect(await l.whenConnected(5_000)).toBe(true);
    const second = sim.call({ number: '87011234567' });
    await until(() => events.find((e) => e.type === 'StasisStart' && e.channel?.id === second.id), 3_000, 'StasisStart after the reconnection');
    await l.answer(second.id);

    const lostAgain = once(l, 'disconnected');
    const restarted = sim.restart(300);
    await lostAgain;
    await restarted;
    expect(await l.whenConnected(5_000)).toBe(true);
    const third = sim.call({ number: '87011234567' });
    await until(() => events.find((e) => e.type === 'StasisStart' && e.channel?.id === third.id), 3_000, 'StasisStart after the restart');
    await l.answer(third.id);
    expect(third.answered).toBe(true);
  });

  it('notices a half-open WebSocket (no pong) and connects again', async () => {
    const sim = await simulator();
    const { link: l } = await connected(sim, { pingIntervalMs: 100, pongTimeoutMs: 200 });
    const lost = once(l, 'disconnected');
    sim.silenceWebSockets();
    await lost;
    expect(l.lastError).toContain('no pong');
    expect(await l.whenConnected(5_000)).toBe(true);
    expect(sim.connectedApps()).toEqual(['zhedel']);
  });

  it('a hung-up channel answers 404: AriError with gone', async () => {
    const sim = await simulator();
    const { link: l } = await connected(sim);
    const call = sim.call({ number: '87011234567' });
    await l.answer(call.id);
    call.hangup();
    for (const p of [l.answer(call.id), l.play(call.id, ['sound:zhedel/ru/welcome'], `${call.id}-pb1`), l.hangup(call.id), l.stopPlayback(`${call.id}-pb9`)]) {
      const e = await rejection(p);
      expect(e.status).toBe(404);
      expect(e.gone).toBe(true);
      expect(e.message).toMatch(/not found/);
    }
    sim.failPaths = ['/answer'];
    const other = sim.call({ number: '87011234567' });
    const e = await rejection(l.answer(other.id));
    expect([e.status, e.gone]).toEqual([500, false]);
    expect(e.message).toContain('Internal server error');
  });

  it('a request that gets no answer is aborted after requestTimeoutMs; the next one works', async () => {
    const sim = await simulator();
    const { link: l } = await connected(sim, { requestTimeoutMs: 300 });
    const call = sim.call({ number: '87011234567' });
    sim.holdPaths = ['/answer'];
    const t0 = Date.now();
    const e = await rejection(l.answer(call.id));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(e.status).toBeNull();
    expect(e.gone).toBe(false);
    expect(e.message).toContain('timed out');
    // the request is abandoned on the wire, not left waiting
    await until(() => sim.held.size === 0, 3_000, 'the held request closed by the client');
    sim.holdPaths = [];
    await l.answer(call.id);
    expect(call.answered).toBe(true);
  });

  it('encodes ids with odd characters in paths and every query value; several media as one playback', async () => {
    const sim = await simulator();
    const { link: l } = await connected(sim);
    const id = 'zhedel co/1?a=b&c#d %e+f,ä';
    const call = await channel(sim, l, id);
    expect(sim.channels.get(id)?.app).toBe('zhedel');
    const originate = sim.requests.find((r) => r.method === 'POST' && r.path.startsWith('/ari/channels/') && r.path.split('/').length === 4);
    expect(originate?.query).toMatchObject({ endpoint: 'PJSIP/77011234567@trunk', app: 'zhedel', appArgs: 'callout,x y', timeout: '30' });

    await l.answer(id);
    const media = ['sound:zhedel/ru/status-armed', 'sound:zhedel/ru/main-menu', 'sound:zhedel/ru/a&b=c?d'];
    const pbId = `${id}-pb1`;
    await l.play(id, media, pbId, 'ru');
    expect(call.playbacks.map((p) => [p.id, p.media])).toEqual([[pbId, media]]);
    const play = sim.requests.find((r) => r.path.includes('/play/'));
    expect(play?.query).toEqual({ media: media.join(','), lang: 'ru' });
    expect(play?.path).not.toMatch(/[ ?#&+,ä]/);

    call.holdWhenPlaying('main-menu');
    await l.play(id, media, `${id}-pb2`);
    await call.waitForPlayback('main-menu', 'playing', 3_000, 1);
    await l.stopPlayback(`${id}-pb2`);
    expect(call.playbacks[1]?.stoppedByApp).toBe(true);

    await l.continueInDialplan(id, 'zhedel operator', 's&1', 2);
    expect(call.continuedTo).toEqual({ context: 'zhedel operator', extension: 's&1', priority: 2 });

    const other = await channel(sim, l, 'second one/2');
    await l.hangup(other.id);
    expect(sim.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/ari/channels/second%20one%2F2', query: { reason: 'normal' }, status: 204 });
    expect(other.isEnded).toBe(true);
  });

  it('a WebSocket frame that is not JSON is logged and ignored; the events around it arrive', async () => {
    const sim = await simulator();
    const { link: l, events, lines } = await connected(sim);
    const first = sim.call({ number: '87011234567' });
    sim.sendRaw('zhedel', 'this is not JSON {');
    sim.sendRaw('zhedel', '["an array"]');
    const second = sim.call({ number: '87011234568' });
    await until(() => events.some((e) => e.channel?.id === second.id), 3_000, 'the second StasisStart');
    expect(events.map((e) => [e.type, e.channel?.id])).toEqual([['StasisStart', first.id], ['StasisStart', second.id]]);
    expect(lines.filter((x) => x.includes('not a JSON event'))).toHaveLength(2);
    expect(l.isConnected()).toBe(true);
  });

  it('stop() closes the WebSocket and the HTTP connections and leaves no timer', async () => {
    const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    const sim = await simulator();
    const before = { timers: count('Timeout'), tcp: count('TCPSocketWrap') };
    const { link: l } = await connected(sim, { pingIntervalMs: 50, pongTimeoutMs: 1_000 });
    await l.answer(sim.call({ number: '87011234567' }).id);
    expect(count('TCPSocketWrap')).toBeGreaterThan(before.tcp);
    await l.stop();
    expect(l.isConnected()).toBe(false);
    await until(() => sim.connectedApps().length === 0, 3_000, 'the WebSocket closed');
    await until(() => count('TCPSocketWrap') <= before.tcp, 3_000, 'the sockets closed');
    expect(count('Timeout')).toBeLessThanOrEqual(before.timers);
    const e = await rejection(l.answer('any'));
    expect(e.message).toContain('not connected');

    // stopped while retrying (Asterisk refusing the credentials): nothing left either
    const { link: refused } = link(sim, { password: 'wrong' });
    refused.start();
    await until(() => refused.lastError !== null, 3_000, 'a failed attempt');
    await refused.stop();
    await until(() => count('TCPSocketWrap') <= before.tcp, 3_000, 'the sockets closed');
    expect(count('Timeout')).toBeLessThanOrEqual(before.timers);
  });
});
