/**
 * SIA DC-09 receiver: one port, TCP and UDP, for alarm panels' IP communicators.
 *
 * Each frame is answered after it is judged:
 * - ACK (same sequence, receiver, line and account; "*ACK" encrypted with the account's key for an
 *   encrypted frame) only once `handle` resolved, so a panel's event is acknowledged only once it is kept;
 * - NAK with the receiver's clock for a bad CRC or length, a timestamp outside the window, or `handle`
 *   failing (the panel sends the frame again);
 * - DUH for a frame it cannot read: bad header or data, an encrypted frame of an account without a key,
 *   a clear frame of an account that has a key, an acknowledgement token sent to the receiver.
 * A frame repeated (same account, receiver, line, sequence, token and data) within the replay window is
 * acknowledged again without a second `handle`; a repeat arriving while the first is still being handled
 * waits for its outcome.
 * Limits: frame size, connections in all and per remote address, TCP idle time, a partial frame held
 * too long (slow sender), replies the peer does not read, frames queued on one connection, UDP frames
 * being handled at once. Keys and payloads are never logged.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../logger.ts';
import {
  FrameSplitter, MAX_FRAME_BYTES, ack, checkTimestamp, duh, frameEvents, nak, parseFrame, peekAccount,
  type Dc09Frame, type Dc09Header, type MappedEvent,
} from './dc09.ts';

export type Dc09Transport = 'tcp' | 'udp';

/** One accepted frame: an event report (SIA-DCS, ADM-CID) or a link test (NULL, no events). */
export interface Dc09Message {
  account: string | null;
  receiver: string | null;
  line: string;
  seq: string;
  token: 'SIA-DCS' | 'ADM-CID' | 'NULL';
  encrypted: boolean;
  events: MappedEvent[];
  /** The panel's timestamp, when the frame carried one. */
  timestamp: Date | null;
  /** The panel's address and port. */
  remote: string;
  transport: Dc09Transport;
}

export interface Dc09ReceiverOptions {
  /** Address to listen on (default all IPv4 addresses). */
  host?: string;
  /** 0 picks a free port (the same for TCP and UDP); see address(). */
  port: number;
  /** Hex AES key of an account, or null when the account sends in clear. */
  keyFor: (account: string) => string | null;
  /**
   * Called before a frame of an account `keyFor` may not know yet (its header names it) is
   * judged: the owner may look the account up (e.g. registered a moment ago elsewhere).
   */
  learn?: (account: string) => Promise<void>;
  /** Keeps a message; the frame is acknowledged only when this resolves. */
  handle: (msg: Dc09Message) => Promise<void>;
  logger: Logger;
  /** Allowed difference between a frame's timestamp and the receiver's clock, either way (default 20 s). */
  windowMs?: number;
  /** How long an acknowledged frame is remembered to acknowledge its repeats (default windowMs). */
  replayWindowMs?: number;
  /** Frames remembered for repeats at most (default 100 000). */
  maxReplayEntries?: number;
  maxFrameBytes?: number;
  /** TCP connections open at once, in all (default 5000) and from one address (default 50). */
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  /** A TCP connection without a readable frame for this long is closed (default 120 s). */
  idleTimeoutMs?: number;
  /** A TCP connection holding an unfinished frame for this long is closed (default 10 s). */
  partialFrameTimeoutMs?: number;
  /** Frames waiting for their answer on one TCP connection before it is closed (default 16). */
  maxQueuedFrames?: number;
  /** Unsent reply bytes on a TCP connection before it is closed (default 64 KiB). */
  maxUnsentBytes?: number;
  /** UDP frames being handled at once; more are dropped unanswered (default 1000). */
  maxUdpInFlight?: number;
  /** Receiver's clock (default the system clock). */
  now?: () => Date;
}

export interface Dc09ReceiverStats {
  frames: number;
  acked: number;
  nak: number;
  duh: number;
  /** Repeats acknowledged without a second handle. */
  replays: number;
  /** `handle` rejected: answered NAK. */
  handleErrors: number;
  /** TCP connections closed by the receiver: idle, slow sender, oversized frame, flooding. */
  droppedConnections: number;
  /** TCP connections refused at once for the connection limits. */
  refusedConnections: number;
  /** UDP datagrams dropped unanswered: not framed, too big, too many in flight. */
  droppedDatagrams: number;
}

type Answer = { kind: 'ack' | 'nak' | 'duh' | 'replay'; bytes: Buffer } | { kind: 'none' };

interface Conn {
  socket: net.Socket;
  address: string;
  remote: string;
  splitter: FrameSplitter;
  queue: Buffer[];
  busy: boolean;
  idle: NodeJS.Timeout | null;
  partial: NodeJS.Timeout | null;
}

/** Sequence numbers wrap and panels restart them: only the same content counts as a repeat. */
function replayKey(f: Dc09Frame): string {
  return [f.account ?? '', f.receiver ?? '', f.line, f.seq, f.token, f.data, ...f.extended].join('\u0000');
}

export class Dc09Receiver {
  private readonly o: Required<Omit<Dc09ReceiverOptions, 'host'>> & { host: string };
  private tcp: net.Server | null = null;
  private udp: dgram.Socket | null = null;
  private readonly conns = new Set<Conn>();
  private readonly perAddress = new Map<string, number>();
  /** Acknowledged frames: key → time acknowledged (insertion order = time order). */
  private readonly seen = new Map<string, number>();
  /** Frames being handled: key → whether handle resolved. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private udpInFlight = 0;
  private stopping = false;
  private readonly counters: Dc09ReceiverStats = {
    frames: 0, acked: 0, nak: 0, duh: 0, replays: 0, handleErrors: 0, droppedConnections: 0, refusedConnections: 0, droppedDatagrams: 0,
  };

  constructor(opts: Dc09ReceiverOptions) {
    const windowMs = opts.windowMs ?? 20_000;
    this.o = {
      host: opts.host ?? '0.0.0.0',
      port: opts.port,
      keyFor: opts.keyFor,
      learn: opts.learn ?? (() => Promise.resolve()),
      handle: opts.handle,
      logger: opts.logger,
      windowMs,
      replayWindowMs: opts.replayWindowMs ?? windowMs,
      maxReplayEntries: opts.maxReplayEntries ?? 100_000,
      maxFrameBytes: Math.min(opts.maxFrameBytes ?? MAX_FRAME_BYTES, MAX_FRAME_BYTES),
      maxConnections: opts.maxConnections ?? 5000,
      maxConnectionsPerAddress: opts.maxConnectionsPerAddress ?? 50,
      idleTimeoutMs: opts.idleTimeoutMs ?? 120_000,
      partialFrameTimeoutMs: opts.partialFrameTimeoutMs ?? 10_000,
      maxQueuedFrames: opts.maxQueuedFrames ?? 16,
      maxUnsentBytes: opts.maxUnsentBytes ?? 64 * 1024,
      maxUdpInFlight: opts.maxUdpInFlight ?? 1000,
      now: opts.now ?? (() => new Date()),
    };
  }

  get stats(): Readonly<Dc09ReceiverStats> {
    return { ...this.counters };
  }

  /** Open TCP connections. */
  get connections(): number {
    return this.conns.size;
  }

  address(): { host: string; port: number } {
    if (!this.tcp) throw new Error('DC-09 receiver is not started');
    const a = this.tcp.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Listens on TCP and UDP, the same port for both. */
  async start(): Promise<void> {
    if (this.tcp) throw new Error('DC-09 receiver already started');
    this.stopping = false;
    for (let attempt = 1; ; attempt++) {
      const tcp = net.createServer((s) => this.accept(s));
      tcp.on('error', (e) => this.o.logger.error({ error: e.message }, 'DC-09 TCP listener error'));
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(this.o.port, this.o.host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      const port = (tcp.address() as net.AddressInfo).port;
      const udp = dgram.createSocket(net.isIPv6(this.o.host) ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, this.o.host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        // a free TCP port may be taken for UDP: with port 0 try another
        if (this.o.port === 0 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 10) continue;
        throw e;
      }
      udp.on('error', (e) => this.o.logger.error({ error: e.message }, 'DC-09 UDP socket error'));
      udp.on('message', (msg, from) => this.datagram(msg, from));
      this.tcp = tcp;
      this.udp = udp;
      this.o.logger.info({ host: this.o.host, port }, 'DC-09 receiver listening (TCP and UDP)');
      return;
    }
  }

  /**
   * Stops listening, closes every connection and waits for frames being handled (up to graceMs)
   * so what was handed over finishes; their answers are no longer sent.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    const tcp = this.tcp;
    const udp = this.udp;
    this.tcp = null;
    this.udp = null;
    const closed = tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : Promise.resolve();
    for (const c of [...this.conns]) this.drop(c, null);
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    await closed;
    const pending = [...this.inFlight.values()];
    if (pending.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(pending),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); }),
      ]);
      clearTimeout(timer);
    }
    this.o.logger.info({ stats: this.stats }, 'DC-09 receiver stopped');
  }

  // ---------------------------------------------------------------- TCP

  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '?';
    const remote = `${address}:${socket.remotePort ?? 0}`;
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.stopping || this.conns.size >= this.o.maxConnections || fromAddress >= this.o.maxConnectionsPerAddress) {
      this.counters.refusedConnections++;
      this.o.logger.warn({ remote, open: this.conns.size, fromAddress }, 'DC-09 connection refused: limit reached');
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.perAddress.set(address, fromAddress + 1);
    const c: Conn = { socket, address, remote, splitter: new FrameSplitter(this.o.maxFrameBytes), queue: [], busy: false, idle: null, partial: null };
    this.conns.add(c);
    socket.setNoDelay(true);
    socket.on('error', (e) => this.o.logger.debug({ remote, error: e.message }, 'DC-09 connection error'));
    socket.on('close', () => this.forget(c));
    socket.on('data', (chunk) => this.onData(c, chunk));
    this.touch(c);
    this.o.logger.debug({ remote }, 'DC-09 connection opened');
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (c.socket.destroyed) return;
    const items = c.splitter.push(chunk);
    for (const item of items) {
      if (item.kind === 'oversized') return this.drop(c, 'oversized frame', { bytes: item.bytes });
      c.queue.push(item.bytes);
    }
    if (c.queue.length > this.o.maxQueuedFrames) return this.drop(c, 'too many frames waiting');
    const framed = items.length > 0;
    if (c.splitter.pending === 0 || framed) {
      if (c.partial) clearTimeout(c.partial);
      c.partial = null;
    }
    if (c.splitter.pending > 0 && !c.partial) {
      c.partial = setTimeout(() => this.drop(c, 'partial frame held too long', { bytes: c.splitter.pending }), this.o.partialFrameTimeoutMs);
    }
    void this.pump(c);
  }

  /** Answers a connection's frames one after the other, in order. */
  private async pump(c: Conn): Promise<void> {
    if (c.busy) return;
    c.busy = true;
    try {
      for (let bytes = c.queue.shift(); bytes && !c.socket.destroyed; bytes = c.queue.shift()) {
        const answer = await this.safeAnswer(bytes, c.remote, 'tcp');
        if (answer.kind !== 'duh') this.touch(c);
        if (answer.kind === 'none' || c.socket.destroyed) continue;
        c.socket.write(answer.bytes);
        if (c.socket.writableLength > this.o.maxUnsentBytes) this.drop(c, 'replies not read');
      }
    } finally {
      c.busy = false;
    }
  }

  /** Restarts the idle timer: on opening and on every frame not answered DUH (garbage keeps no connection open). */
  private touch(c: Conn): void {
    if (c.idle) clearTimeout(c.idle);
    c.idle = setTimeout(() => this.drop(c, 'idle'), this.o.idleTimeoutMs);
  }

  private drop(c: Conn, reason: string | null, extra: Record<string, unknown> = {}): void {
    if (reason) {
      this.counters.droppedConnections++;
      this.o.logger.warn({ remote: c.remote, reason, ...extra }, 'DC-09 connection dropped');
    }
    c.queue.length = 0;
    c.socket.destroy();
    this.forget(c);
  }

  private forget(c: Conn): void {
    if (c.idle) clearTimeout(c.idle);
    if (c.partial) clearTimeout(c.partial);
    c.idle = null;
    c.partial = null;
    if (!this.conns.delete(c)) return;
    const n = (this.perAddress.get(c.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(c.address, n);
    else this.perAddress.delete(c.address);
  }

  // ---------------------------------------------------------------- UDP

  private datagram(msg: Buffer, from: dgram.RemoteInfo): void {
    const framed = msg.length >= 11 && msg.length <= this.o.maxFrameBytes && msg[0] === 0x0a && msg[msg.length - 1] === 0x0d;
    // an answer to a datagram that is not a frame could be sent to a forged address: none is sent
    if (!framed || this.udpInFlight >= this.o.maxUdpInFlight || this.stopping) {
      this.counters.droppedDatagrams++;
      this.o.logger.debug({ remote: `${from.address}:${from.port}`, bytes: msg.length, framed }, 'DC-09 datagram dropped');
      return;
    }
    this.udpInFlight++;
    const remote = `${from.address}:${from.port}`;
    void this.safeAnswer(msg, remote, 'udp').then((answer) => {
      this.udpInFlight--;
      if (answer.kind !== 'none' && this.udp) this.udp.send(answer.bytes, from.port, from.address);
    });
  }

  // ---------------------------------------------------------------- frames

  private keyOf(account: string): string | null {
    try {
      return this.o.keyFor(account);
    } catch (e) {
      this.o.logger.error({ account, error: (e as Error).message }, 'DC-09 key lookup failed');
      return null;
    }
  }

  /** An unexpected fault while judging a frame leaves it unanswered (the panel sends it again). */
  private async safeAnswer(bytes: Buffer, remote: string, transport: Dc09Transport): Promise<Answer> {
    try {
      return await this.answer(bytes, remote, transport);
    } catch (e) {
      this.o.logger.error({ remote, transport, error: (e as Error).message }, 'DC-09 frame not answered: receiver fault');
      return { kind: 'none' };
    }
  }

  /** Judges one frame and gives its answer. */
  private async answer(bytes: Buffer, remote: string, transport: Dc09Transport): Promise<Answer> {
    this.counters.frames++;
    const peeked = peekAccount(bytes);
    if (peeked) await this.o.learn(peeked);
    const now = this.o.now();
    let key: string | null = null;
    const r = parseFrame(bytes, { keyFor: (a) => (key = this.keyOf(a)) ?? undefined });
    const log = this.o.logger;
    if (!r.ok) {
      log.debug({ remote, transport, error: r.error, reason: r.reason, account: r.header?.account, seq: r.header?.seq }, 'DC-09 frame refused');
      if (r.error !== 'format') return this.nakNow(now);
      return this.duh(r.header ?? { token: 'DUH', encrypted: false, seq: '0000', receiver: null, line: '0', account: null });
    }
    const f = r.frame;
    const ctx = { remote, transport, account: f.account, seq: f.seq, token: f.token };
    if (f.token !== 'SIA-DCS' && f.token !== 'ADM-CID' && f.token !== 'NULL') {
      log.debug(ctx, 'DC-09 acknowledgement token sent to the receiver');
      return this.duh(f);
    }
    if (!f.encrypted && f.account && this.keyOf(f.account)) {
      log.warn(ctx, 'DC-09 clear frame from an account that has a key');
      return this.duh(f);
    }
    if (!checkTimestamp(f.timestamp, now, this.o.windowMs)) {
      log.info({ ...ctx, skewMs: f.timestamp!.getTime() - now.getTime() }, 'DC-09 frame outside the time window');
      return this.nakNow(now);
    }
    const ackBytes = (): Buffer => ack(f, key ? { key, now: this.o.now() } : {});
    const rk = replayKey(f);
    this.forgetOld(now.getTime());
    if (this.seen.has(rk)) {
      this.counters.replays++;
      this.counters.acked++;
      log.debug(ctx, 'DC-09 repeat acknowledged again');
      return { kind: 'replay', bytes: ackBytes() };
    }
    const running = this.inFlight.get(rk);
    if (running) {
      const ok = await running;
      if (!ok) return this.nakNow(this.o.now());
      this.counters.replays++;
      this.counters.acked++;
      return { kind: 'replay', bytes: ackBytes() };
    }
    const msg: Dc09Message = {
      account: f.account, receiver: f.receiver, line: f.line, seq: f.seq, token: f.token, encrypted: f.encrypted,
      events: frameEvents(f), timestamp: f.timestamp, remote, transport,
    };
    const handled = this.handleOnce(msg, ctx);
    this.inFlight.set(rk, handled);
    let ok: boolean;
    try {
      ok = await handled;
    } finally {
      this.inFlight.delete(rk);
    }
    if (!ok) return this.nakNow(this.o.now());
    this.remember(rk, this.o.now().getTime());
    this.counters.acked++;
    log.debug({ ...ctx, events: msg.events.length }, 'DC-09 frame acknowledged');
    return { kind: 'ack', bytes: ackBytes() };
  }

  private async handleOnce(msg: Dc09Message, ctx: Record<string, unknown>): Promise<boolean> {
    try {
      await this.o.handle(msg);
      return true;
    } catch (e) {
      this.counters.handleErrors++;
      this.o.logger.error({ ...ctx, error: (e as Error).message }, 'DC-09 message not kept; answered NAK');
      return false;
    }
  }

  private nakNow(now: Date): Answer {
    this.counters.nak++;
    return { kind: 'nak', bytes: nak(now) };
  }

  private duh(h: Dc09Header): Answer {
    this.counters.duh++;
    return { kind: 'duh', bytes: duh(h) };
  }

  private remember(rk: string, at: number): void {
    this.seen.delete(rk);
    this.seen.set(rk, at);
    while (this.seen.size > this.o.maxReplayEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
  }

  private forgetOld(nowMs: number): void {
    for (const [k, at] of this.seen) {
      if (nowMs - at <= this.o.replayWindowMs) break;
      this.seen.delete(k);
    }
  }
}
