import dgram from 'node:dgram';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFrame, frameBody } from '../../src/panels/dc09.ts';
import { Dc09Receiver, type Dc09Message, type Dc09ReceiverOptions } from '../../src/panels/receiver.ts';
import { PanelSimulator, decodeReply, type PanelOptions } from '../sim/panel.ts';
import { until } from '../support/sms-harness.ts';

const KEY128 = '000102030405060708090A0B0C0D0E0F';
const KEY256 = 'F0E1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF';
const KEYS: Record<string, string> = { BEEF: KEY256, ABCD: KEY128 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

interface Deferred { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void }
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Rig {
  rx: Dc09Receiver;
  port: number;
  handled: Dc09Message[];
  lines: string[];
  /** Replaces what handle does (default: keeps the message). */
  behave: (fn: (msg: Dc09Message) => Promise<void>) => void;
  panel: (o: Partial<PanelOptions> & { transport: 'tcp' | 'udp' }) => PanelSimulator;
}

async function rig(o: Partial<Dc09ReceiverOptions> = {}): Promise<Rig> {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  }));
  const handled: Dc09Message[] = [];
  let behaviour: (msg: Dc09Message) => Promise<void> = async () => undefined;
  const rx = new Dc09Receiver({
    host: '127.0.0.1', port: 0, logger, keyFor: (a) => KEYS[a] ?? null,
    handle: async (msg) => {
      await behaviour(msg);
      handled.push(msg);
    },
    ...o,
  });
  await rx.start();
  cleanups.push(() => rx.stop());
  const port = rx.address().port;
  return {
    rx, port, handled, lines,
    behave: (fn) => { behaviour = fn; },
    panel: (p) => {
      const sim = new PanelSimulator({ port, account: '1234', receiver: '1', line: '2', ...p });
      cleanups.push(() => sim.close());
      return sim;
    },
  };
}

/** A raw TCP connection to the receiver, with its close and received bytes observable. */
async function rawTcp(port: number): Promise<{ socket: net.Socket; closed: Promise<void>; received: () => string }> {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (b) => { got += b.toString('latin1'); });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  cleanups.push(() => { socket.destroy(); });
  return { socket, closed, received: () => got };
}

describe('DC-09 receiver over TCP and UDP on one port', () => {
  it.each(['tcp', 'udp'] as const)('%s: acknowledges only after handle resolved, echoing sequence, receiver, line and account', async (transport) => {
    const r = await rig();
    const gate = deferred();
    const order: string[] = [];
    r.behave(async () => {
      order.push('handle started');
      await gate.promise;
      order.push('handle done');
    });
    const panel = r.panel({ transport });
    const reply = panel.send({ token: 'ADM-CID', data: '#1234|1130 01 015' }).then((a) => {
      order.push('reply');
      return a;
    });
    await until(() => order.length === 1, 3_000, 'handle called');
    expect(order).toEqual(['handle started']);
    gate.resolve();
    const a = await reply;
    expect(order).toEqual(['handle started', 'handle done', 'reply']);
    expect(a).toMatchObject({ token: 'ACK', seq: '0001', account: '1234', encrypted: false, crcOk: true });
    expect(a.raw).toContain('"ACK"0001R1L2#1234[');
    expect(r.handled).toHaveLength(1);
    expect(r.handled[0]).toMatchObject({
      account: '1234', receiver: '1', line: '2', seq: '0001', token: 'ADM-CID', encrypted: false, transport,
      events: [{ type: 'alarm', kind: 'burglary', zone: '015', partition: '01', code: 'E130' }],
    });
    expect(r.handled[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Math.abs(r.handled[0]!.timestamp!.getTime() - Date.now())).toBeLessThan(5_000);
    expect(r.rx.stats).toMatchObject({ frames: 1, acked: 1, nak: 0, duh: 0, replays: 0 });
  });

  it.each(['tcp', 'udp'] as const)('%s: link tests (NULL) are acknowledged and handed over with no events', async (transport) => {
    const r = await rig();
    expect(await r.panel({ transport }).send({ token: 'NULL' })).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(r.handled).toMatchObject([{ token: 'NULL', events: [], account: '1234' }]);
  });

  it.each(['tcp', 'udp'] as const)('%s: NAK with the receiver clock for a bad CRC and a stale or early timestamp; nothing handled', async (transport) => {
    const r = await rig({ windowMs: 20_000 });
    const panel = r.panel({ transport });
    const bad = await panel.send({ token: 'ADM-CID', data: '#1234|1110 01 001', badCrc: true });
    expect(bad).toMatchObject({ token: 'NAK', seq: '0000', crcOk: true });
    expect(bad.timestamp).toMatch(/^_\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}$/);
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1110 01 001', clockSkewMs: -60_000 })).toMatchObject({ token: 'NAK' });
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1110 01 001', clockSkewMs: 60_000 })).toMatchObject({ token: 'NAK' });
    // a wrong length field
    const body = '"NULL"0009L2#1234[]';
    expect(await panel.exchange(Buffer.from(`\n${frameBody(body).toString('latin1').slice(1, 5)}0099${body}\r`, 'latin1'))).toMatchObject({ token: 'NAK' });
    expect(r.handled).toHaveLength(0);
    // within the window it passes
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1110 01 001', clockSkewMs: -15_000 })).toMatchObject({ token: 'ACK' });
    expect(r.rx.stats).toMatchObject({ nak: 4, acked: 1, frames: 5 });
  });

  it.each(['tcp', 'udp'] as const)('%s: DUH for what it cannot read, an encrypted account without a key, a clear frame of a keyed account', async (transport) => {
    const r = await rig();
    const panel = r.panel({ transport });
    expect(await panel.exchange(frameBody('"FOO"0007L2#1234[]'))).toMatchObject({ token: 'DUH' });
    expect(await panel.exchange(frameBody('"ADM-CID"0007L2#1234[#1234|1130 01 015]junk'))).toMatchObject({ token: 'DUH', seq: '0007', account: '1234' });
    expect(await panel.exchange(frameBody('"ACK"0007L2#1234[]'))).toMatchObject({ token: 'DUH', seq: '0007' });
    // an account with no key sending encrypted
    const noKey = r.panel({ transport, account: 'CAFE', key: KEY128 });
    expect(await noKey.send({ token: 'ADM-CID', data: '#CAFE|1130 01 001' })).toMatchObject({ token: 'DUH', account: 'CAFE', seq: '0001', encrypted: false });
    // an account with a key sending in clear (anyone could forge it)
    const clear = r.panel({ transport, account: 'BEEF' });
    expect(await clear.send({ token: 'ADM-CID', data: '#BEEF|1130 01 001' })).toMatchObject({ token: 'DUH', account: 'BEEF' });
    // an account with a key, but the frame encrypted with another one
    const wrong = r.panel({ transport, account: 'ABCD', key: KEY256 });
    expect(await wrong.send({ token: 'NULL' })).toMatchObject({ token: 'DUH', account: 'ABCD' });
    expect(r.handled).toHaveLength(0);
    expect(r.rx.stats.duh).toBe(6);
    // the panel keeps working after all that
    expect(await panel.send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });
  });

  it('TCP garbage between frames is skipped; a framed garbage gets DUH; the connection keeps working', async () => {
    const r = await rig();
    const c = await rawTcp(r.port);
    const good = buildFrame({ token: 'SIA-DCS', seq: 5, line: '1', account: '1234', data: '#1234|Nri1/BA015', timestamp: new Date() });
    c.socket.write(Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0x0d]), Buffer.from('\nnot a frame\r'), good]));
    await until(() => (c.received().match(/\r/g) ?? []).length === 2, 3_000, 'two replies');
    const [first, second] = c.received().split('\r').slice(0, 2).map((s) => decodeReply(Buffer.from(`${s}\r`, 'latin1')));
    expect(first).toMatchObject({ token: 'DUH', seq: '0000' });
    expect(second).toMatchObject({ token: 'ACK', seq: '0005' });
    expect(r.handled).toMatchObject([{ token: 'SIA-DCS', events: [{ type: 'alarm', kind: 'burglary', zone: '015', partition: '1' }] }]);
  });

  it('UDP datagrams that are not frames get no answer (no reflection), and do not disturb panels', async () => {
    const r = await rig();
    const sock = dgram.createSocket('udp4');
    const answers: Buffer[] = [];
    sock.on('message', (m) => answers.push(m));
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
    sock.send(Buffer.from('x'), r.port, '127.0.0.1');
    sock.send(Buffer.alloc(2000, 0x41), r.port, '127.0.0.1');
    sock.send(Buffer.concat([Buffer.from('\n'), Buffer.alloc(1100, 0x41), Buffer.from('\r')]), r.port, '127.0.0.1');
    await until(() => r.rx.stats.droppedDatagrams === 3, 3_000, 'three datagrams dropped');
    expect(await r.panel({ transport: 'udp' }).send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });
    expect(answers).toHaveLength(0);
  });

  it.each(['tcp', 'udp'] as const)('%s: encrypted round trip with an encrypted ACK', async (transport) => {
    const r = await rig();
    const panel = r.panel({ transport, account: 'BEEF', key: KEY256 });
    const a = await panel.send({ token: 'SIA-DCS', data: '#BEEF|Nri2/OP003' });
    expect(a).toMatchObject({ token: 'ACK', encrypted: true, seq: '0001', account: 'BEEF', crcOk: true });
    expect(a.timestamp).toMatch(/^_\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}$/);
    expect(a.raw).toContain('"*ACK"0001R1L2#BEEF[');
    expect(r.handled).toMatchObject([{ account: 'BEEF', encrypted: true, token: 'SIA-DCS', events: [{ type: 'disarm', user: '003', partition: '2' }] }]);
    const n = await panel.send({ token: 'NULL' });
    expect(n).toMatchObject({ token: 'ACK', encrypted: true, seq: '0002' });
  });

  it('a failing key lookup gives DUH to that account only; the receiver keeps answering', async () => {
    const r = await rig({ keyFor: (a) => {
      if (a === 'DEAD') throw new Error('key store unavailable');
      return KEYS[a] ?? null;
    } });
    expect(await r.panel({ transport: 'tcp', account: 'DEAD', key: KEY128 }).send({ token: 'NULL' })).toMatchObject({ token: 'DUH', account: 'DEAD' });
    expect(r.lines.join('')).toContain('key store unavailable');
    expect(await r.panel({ transport: 'tcp', account: 'ABCD', key: KEY128 }).send({ token: 'NULL' })).toMatchObject({ token: 'ACK', encrypted: true });
  });

  it('keys and payloads never reach the log', async () => {
    const r = await rig();
    await r.panel({ transport: 'tcp', account: 'BEEF', key: KEY256 }).send({ token: 'ADM-CID', data: '#BEEF|1121 01 004' });
    await r.panel({ transport: 'udp', account: 'ABCD', key: KEY256 }).send({ token: 'ADM-CID', data: '#ABCD|1121 01 004' });
    r.behave(async () => { throw new Error('disk full'); });
    await r.panel({ transport: 'udp', account: 'BEEF', key: KEY256 }).send({ token: 'ADM-CID', data: '#BEEF|1121 01 009' });
    const log = r.lines.join('');
    expect(log).toContain('DC-09 frame acknowledged');
    expect(log).toContain('disk full');
    for (const secret of [KEY256, KEY128, KEY256.toLowerCase(), '1121 01 004', '1121 01 009']) expect(log).not.toContain(secret);
  });

  it.each(['tcp', 'udp'] as const)('%s: a repeat within the window is acknowledged again without a second handle', async (transport) => {
    const r = await rig();
    const panel = r.panel({ transport });
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1130 01 015' })).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1130 01 015', replay: true })).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(r.handled).toHaveLength(1);
    expect(r.rx.stats).toMatchObject({ acked: 2, replays: 1 });
    // the same sequence with other content (a panel restarted its count) is a new message
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|3130 01 015', replay: true })).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(r.handled.map((m) => m.events[0]!.type)).toEqual(['alarm', 'restore']);
  });

  it('a repeat arriving while the first is being handled waits for it and is not handled twice', async () => {
    const r = await rig();
    const gate = deferred();
    let calls = 0;
    r.behave(async () => {
      calls++;
      await gate.promise;
    });
    const first = r.panel({ transport: 'udp' });
    const bytes = first.message({ token: 'ADM-CID', data: '#1234|1120 01 000' });
    const a = first.exchange(bytes);
    await until(() => calls === 1, 3_000, 'handle called');
    const b = r.panel({ transport: 'tcp' }).exchange(bytes);
    await until(() => r.rx.stats.frames === 2, 3_000, 'repeat received');
    gate.resolve();
    expect(await a).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(await b).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(calls).toBe(1);
    expect(r.rx.stats.replays).toBe(1);
  });

  it('remembers repeats for a bounded number of frames', async () => {
    const r = await rig({ maxReplayEntries: 2 });
    const panel = r.panel({ transport: 'udp' });
    const firstBytes = panel.message({ token: 'NULL' });
    await panel.exchange(firstBytes);
    await panel.send({ token: 'NULL' });
    await panel.send({ token: 'NULL' });
    // the first is forgotten: its repeat is handled again
    expect(await panel.exchange(firstBytes)).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(r.handled.map((m) => m.seq)).toEqual(['0001', '0002', '0003', '0001']);
  });

  it.each(['tcp', 'udp'] as const)('%s: handle rejecting gives NAK, not ACK; the retry is handled and acknowledged', async (transport) => {
    const r = await rig();
    let fail = true;
    r.behave(async () => {
      if (fail) throw new Error('database is locked');
    });
    const panel = r.panel({ transport });
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1110 01 003' })).toMatchObject({ token: 'NAK' });
    expect(r.handled).toHaveLength(0);
    expect(r.rx.stats).toMatchObject({ acked: 0, nak: 1, handleErrors: 1 });
    fail = false;
    expect(await panel.send({ token: 'ADM-CID', data: '#1234|1110 01 003', replay: true })).toMatchObject({ token: 'ACK', seq: '0001' });
    expect(r.handled).toMatchObject([{ seq: '0001', events: [{ kind: 'fire' }] }]);
  });

  it('an oversized frame drops its connection while another panel keeps working', async () => {
    const r = await rig();
    const other = r.panel({ transport: 'tcp' });
    expect(await other.send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });
    const c = await rawTcp(r.port);
    c.socket.write(Buffer.concat([Buffer.from('\n'), Buffer.alloc(1100, 0x41)]));
    await c.closed;
    expect(c.received()).toBe('');
    expect(r.rx.stats.droppedConnections).toBe(1);
    expect(await other.send({ token: 'ADM-CID', data: '#1234|1130 01 001' })).toMatchObject({ token: 'ACK', seq: '0002' });
  });

  it('a slow sender is dropped while another panel keeps working; an idle connection is closed', async () => {
    const r = await rig({ partialFrameTimeoutMs: 300, idleTimeoutMs: 1_500 });
    const other = r.panel({ transport: 'tcp' });
    const slow = await rawTcp(r.port);
    const frame = buildFrame({ token: 'NULL', seq: 1, line: '1', account: '1234', timestamp: new Date() });
    slow.socket.write(frame.subarray(0, 10));
    const t0 = Date.now();
    // the other panel is answered at once while the slow one holds its half frame
    expect(await other.send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });
    slow.socket.write(frame.subarray(10, 15));
    await slow.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(slow.received()).toBe('');
    expect(r.rx.stats.droppedConnections).toBe(1);
    expect(r.handled).toHaveLength(1);
    await other.close();
    await until(() => r.rx.connections === 0, 3_000, 'the other panel gone');

    const idle = await rawTcp(r.port);
    const t1 = Date.now();
    await idle.closed;
    expect(Date.now() - t1).toBeGreaterThanOrEqual(1_400);
    expect(r.rx.stats.droppedConnections).toBe(2);
  });

  it('200 panels over TCP at once are all handled and acknowledged', async () => {
    const r = await rig({ maxConnectionsPerAddress: 500 });
    const panels = Array.from({ length: 200 }, (_, i) => r.panel({ transport: 'tcp', account: (1000 + i).toString(), replyTimeoutMs: 20_000 }));
    const replies = await Promise.all(panels.map((p, i) => p.send({ token: 'ADM-CID', data: `#${1000 + i}|1130 01 001` })));
    expect(replies.every((a, i) => a.token === 'ACK' && a.account === (1000 + i).toString())).toBe(true);
    expect(new Set(r.handled.map((m) => m.account)).size).toBe(200);
    expect(r.rx.connections).toBe(200);
    const second = await Promise.all(panels.map((p) => p.send({ token: 'NULL' })));
    expect(second.every((a) => a.token === 'ACK' && a.seq === '0002')).toBe(true);
  }, 30_000);

  it('refuses connections over the limit per address and in all; a freed place is usable again', async () => {
    const r = await rig({ maxConnectionsPerAddress: 3, maxConnections: 10 });
    const panels = [1, 2, 3].map(() => r.panel({ transport: 'tcp' }));
    for (const p of panels) expect(await p.send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });
    const fourth = await rawTcp(r.port);
    await fourth.closed;
    expect(r.rx.stats.refusedConnections).toBe(1);
    // UDP is not limited by TCP connections
    expect(await r.panel({ transport: 'udp' }).send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });
    await panels[0]!.close();
    await until(() => r.rx.connections === 2, 3_000, 'a connection closed');
    expect(await r.panel({ transport: 'tcp' }).send({ token: 'NULL' })).toMatchObject({ token: 'ACK' });

    const total = await rig({ maxConnectionsPerAddress: 50, maxConnections: 2 });
    await total.panel({ transport: 'tcp' }).send({ token: 'NULL' });
    await total.panel({ transport: 'tcp' }).send({ token: 'NULL' });
    await (await rawTcp(total.port)).closed;
    expect(total.rx.stats.refusedConnections).toBe(1);
  });

  it('stop() closes connections and the port, waits for what is being handled, and resolves', async () => {
    const r = await rig();
    const gate = deferred();
    r.behave(() => gate.promise);
    const idle = await rawTcp(r.port);
    const busy = await rawTcp(r.port);
    busy.socket.write(buildFrame({ token: 'ADM-CID', seq: 1, line: '1', account: '1234', data: '#1234|1130 01 001', timestamp: new Date() }));
    await until(() => r.rx.stats.frames === 1, 3_000, 'frame received');
    let stopped = false;
    const stopping = r.rx.stop().then(() => { stopped = true; });
    await idle.closed;
    await busy.closed;
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(r.handled).toHaveLength(1);
    expect(busy.received()).toBe('');
    expect(r.rx.connections).toBe(0);
    const refused = net.connect(r.port, '127.0.0.1');
    await expect(new Promise((resolve, reject) => {
      refused.once('connect', resolve);
      refused.once('error', reject);
    })).rejects.toThrow(/ECONNREFUSED/);
  });
});
