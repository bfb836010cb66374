import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { backoffDelay } from '../domain/backoff.ts';
import type { Logger } from '../logger.ts';
import type { Address, DeliverSm } from './codec.ts';
import { parseDeliverSm } from './codec.ts';
import {
  checkBind, CMD, encodeBindTransceiver, encodeDeliverSmResp, encodeEnquireLink, encodeEnquireLinkResp, encodeGenericNack,
  encodeSubmitSm, encodeUnbind, encodeUnbindResp, ESME_RINVCMDID, nextSequence, PduReader, submitSmRespMessageId,
} from './pdu.ts';

/**
 * An SMPP v3.4 transceiver session to the SMSC over TCP or TLS, on the PDU layer of pdu.ts:
 * a send window, response timeouts, enquire_link supervision, reconnect with backoff and
 * jitter, a throughput limit, pauses on throttling and full queues, and typed outcomes. The
 * only module besides the codec and pdu.ts that knows SMPP.
 */

export interface SubmitParams {
  source: Address;
  destination: Address;
  dataCoding: number;
  esmClass: number;
  shortMessage: Buffer;
  registeredDelivery: number;
  validityPeriod?: string;
  priority?: number;
}

export type SubmitOutcome =
  | { status: 'accepted'; messageId: string }
  | { status: 'rejected'; commandStatus: number; permanent: boolean }
  /** No answer in time: the SMSC may have accepted it. */
  | { status: 'timeout' }
  /** Never written: safe to send again. */
  | { status: 'not-sent' }
  /** Written, then the link dropped before the answer: the SMSC may have accepted it. */
  | { status: 'unknown' };

export type InboundDeliver = DeliverSm;

export interface SessionOptions {
  url: string;
  systemId: string;
  password: string;
  systemType?: string;
  window?: number;
  responseTimeoutMs?: number;
  enquireLinkMs?: number;
  /** Message parts per second; 0 for no limit. */
  tps?: number;
  reconnectDelaysMs?: number[];
  tlsRejectUnauthorized?: boolean;
  tlsCa?: string | Buffer;
  throttlePauseMs?: number;
  queueFullPauseMs?: number;
  maxRetriesOnBusy?: number;
  logger: Logger;
}

/**
 * SMPP v3.4 statuses (section 5.1.3) that mean the message itself, or our configuration, is
 * refused: sending it again will not help, so it fails at once. Every other status — the SMSC
 * busy or faulty (0x08, 0x14, 0x45, 0x58, 0x64, 0xFE, 0xFF…) and vendor-specific codes we do
 * not know — is retried a bounded number of times: a wrong "permanent" verdict would lose an
 * alarm or a code for good.
 */
export const PERMANENT_STATUSES = new Map<number, string>([
  [0x01, 'ESME_RINVMSGLEN message length invalid'],
  [0x02, 'ESME_RINVCMDLEN command length invalid'],
  [0x03, 'ESME_RINVCMDID command id invalid'],
  [0x06, 'ESME_RINVPRTFLG priority flag invalid'],
  [0x07, 'ESME_RINVREGDLVFLG registered delivery flag invalid'],
  [0x0a, 'ESME_RINVSRCADR source address invalid (sender not registered)'],
  [0x0b, 'ESME_RINVDSTADR destination address invalid'],
  [0x15, 'ESME_RINVSERTYP service type invalid'],
  [0x43, 'ESME_RINVESMCLASS esm_class invalid'],
  [0x48, 'ESME_RINVSRCTON source TON invalid'],
  [0x49, 'ESME_RINVSRCNPI source NPI invalid'],
  [0x50, 'ESME_RINVDSTTON destination TON invalid'],
  [0x51, 'ESME_RINVDSTNPI destination NPI invalid'],
  [0x53, 'ESME_RINVSYSTYP system type invalid'],
  [0x61, 'ESME_RINVSCHED scheduled delivery time invalid'],
  [0x62, 'ESME_RINVEXPIRY validity period invalid'],
  [0x65, 'ESME_RX_P_APPN permanent application error'],
  [0x66, 'ESME_RX_R_APPN rejected by the application'],
  [0xc0, 'ESME_RINVTLVSTREAM TLV stream invalid'],
  [0xc1, 'ESME_RTLVNOTALLWD TLV not allowed'],
  [0xc2, 'ESME_RINVTLVLEN TLV length invalid'],
  [0xc4, 'ESME_RINVTLVVAL TLV value invalid'],
  [0x0101, 'ESME_RPROHIBITED prohibited'],
  [0x0104, 'ESME_RINVDCS data coding invalid'],
]);
export const ESME_RTHROTTLED = 0x58;
export const ESME_RMSGQFUL = 0x14;

export function isPermanent(status: number): boolean {
  return PERMANENT_STATUSES.has(status);
}

interface Pending {
  params: SubmitParams;
  resolve: (o: SubmitOutcome) => void;
  busyRetries: number;
  /** While written and unanswered: its sequence_number on the link (0 otherwise) and its deadline. */
  seq: number;
  deadline: number;
}

/** A request other than submit_sm awaiting its answer; `done(null)`: no answer (timeout or link gone). */
interface Control {
  timer: NodeJS.Timeout;
  done: (status: number | null) => void;
}

const ESME_RSYSERR = 0x08;
/** SMPP v3.4 responses: one of these with no request of ours waiting for it is ignored. */
const V34_RESPONSES = new Set([
  0x80000000, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006, 0x80000007, 0x80000008, 0x80000009,
  0x80000015, 0x80000021, 0x80000103,
]);
const NOT_SENT: SubmitOutcome = Object.freeze({ status: 'not-sent' });
const UNKNOWN: SubmitOutcome = Object.freeze({ status: 'unknown' });
const TIMEOUT: SubmitOutcome = Object.freeze({ status: 'timeout' });

/**
 * One TCP (or TLS) connection to the SMSC and what belongs to it alone: its sequence numbers,
 * its reader, the requests other than submit_sm awaiting an answer, and the PDUs written in
 * this event-loop turn, which go to the socket together on the next tick.
 */
class Link {
  seq = 0;
  readonly reader = new PduReader();
  readonly control = new Map<number, Control>();
  private out: Buffer[] = [];
  private outBytes = 0;
  /** Submits among `out`: the newest entries of the session's `awaiting`. */
  outSubmits = 0;
  /** The socket's buffer is full: no new submits until it drains. */
  blocked = false;
  private flushQueued = false;

  constructor(readonly socket: Socket) {}

  nextSeq(): number {
    this.seq = nextSequence(this.seq);
    return this.seq;
  }

  send(pdu: Buffer, submit = false): void {
    this.out.push(pdu);
    this.outBytes += pdu.length;
    if (submit) this.outSubmits++;
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(this.flush);
    }
  }

  /** Sends a request and waits for its answer (its status), at most `timeoutMs`. */
  request(pdu: Buffer, timeoutMs: number, done: (status: number | null) => void): void {
    const seq = pdu.readUInt32BE(12);
    const timer = setTimeout(() => {
      if (this.control.delete(seq)) done(null);
    }, timeoutMs);
    timer.unref();
    this.control.set(seq, { timer, done });
    this.send(pdu);
  }

  /** The answer to a request of ours; false if none waits for this sequence number. */
  answer(seq: number, status: number): boolean {
    const c = this.control.get(seq);
    if (!c) return false;
    this.control.delete(seq);
    clearTimeout(c.timer);
    c.done(status);
    return true;
  }

  /** The link is gone: every request waiting here gets no answer, nothing more is written. */
  close(): void {
    const waiting = [...this.control.values()];
    this.control.clear();
    for (const c of waiting) {
      clearTimeout(c.timer);
      c.done(null);
    }
    this.out.length = 0;
    this.outBytes = 0;
    this.outSubmits = 0;
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const out = this.out;
    if (out.length === 0 || this.socket.destroyed) return;
    const bytes = out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, this.outBytes);
    out.length = 0;
    this.outBytes = 0;
    this.outSubmits = 0;
    if (!this.socket.write(bytes)) this.blocked = true;
  };
}

export interface SessionStats {
  bound: boolean;
  inFlight: number;
  queued: number;
  submitted: number;
  accepted: number;
  rejected: number;
  throttled: number;
  queueFull: number;
  timeouts: number;
  reconnects: number;
  delivers: number;
}

/** Events: 'bound', 'unbound'. */
export class SmppSession extends EventEmitter {
  private readonly o: Required<Omit<SessionOptions, 'tlsCa' | 'systemType'>> & Pick<SessionOptions, 'tlsCa' | 'systemType'>;
  private link: Link | null = null;
  private bound = false;
  private stopping = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private enquireTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | null = null;
  private tokens: number;
  private lastRefill = 0;
  private tokenTimer: NodeJS.Timeout | null = null;
  private deliverHandler: ((d: InboundDeliver) => number | Promise<number>) | null = null;
  private readonly counters = { submitted: 0, accepted: 0, rejected: 0, throttled: 0, queueFull: 0, timeouts: 0, reconnects: 0, delivers: 0 };
  /**
   * Submits written on the current link, awaiting their answer, by sequence number. Entries
   * are added as they are written, all with the same timeout: the map's order is the order of
   * their deadlines, which one periodic sweep checks from the oldest.
   */
  private readonly awaiting = new Map<number, Pending>();

  constructor(opts: SessionOptions) {
    super();
    this.o = {
      window: 10, responseTimeoutMs: 30_000, enquireLinkMs: 30_000, tps: 0, reconnectDelaysMs: [1_000, 5_000, 15_000, 30_000],
      tlsRejectUnauthorized: true, throttlePauseMs: 1_000, queueFullPauseMs: 10_000, maxRetriesOnBusy: 5, ...opts,
    };
    // refused here rather than sent as a malformed bind_transceiver
    checkBind({ systemId: this.o.systemId, password: this.o.password, systemType: this.o.systemType ?? '' });
    this.tokens = this.bucketSize();
    this.on('error', () => undefined);
  }

  isBound(): boolean {
    return this.bound;
  }

  stats(): SessionStats {
    return { bound: this.bound, inFlight: this.inFlight, queued: this.queue.length - this.queueHead, ...this.counters };
  }

  /** The one handler for messages from the SMSC; its number is the deliver_sm_resp status. */
  onDeliver(handler: (d: InboundDeliver) => number | Promise<number>): void {
    this.deliverHandler = handler;
  }

  start(): void {
    this.stopping = false;
    this.connect();
  }

  /**
   * Takes one submit_sm. Resolves with the SMSC's answer or a typed failure; never rejects.
   * Waits in a FIFO while the window is full, the link is down or sending is paused.
   */
  submit(params: SubmitParams): Promise<SubmitOutcome> {
    if (this.stopping) return Promise.resolve(NOT_SENT);
    return new Promise((resolve) => {
      this.queue.push({ params, resolve, busyRetries: 0, seq: 0, deadline: 0 });
      this.drain();
    });
  }

  /** Stops: no new submits; waits (bounded) for answers in flight, unbinds, closes. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    // what waits in the queue was never written
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]?.resolve(NOT_SENT);
    this.queue.length = 0;
    this.queueHead = 0;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline && this.link) await new Promise((r) => setTimeout(r, 20));
    const link = this.link;
    if (link && this.bound) {
      await new Promise<void>((resolve) => {
        link.request(encodeUnbind(link.nextSeq()), 1_000, () => resolve());
      });
    }
    this.teardown('stopped');
    this.clearTimers();
  }

  private clearTimers(): void {
    for (const t of [this.enquireTimer, this.pauseTimer, this.tokenTimer, this.reconnectTimer, this.sweepTimer]) if (t) clearTimeout(t);
    this.enquireTimer = this.pauseTimer = this.tokenTimer = this.reconnectTimer = this.sweepTimer = null;
  }

  private connect(): void {
    if (this.stopping) return;
    const log = this.o.logger;
    let url: URL;
    try {
      url = new URL(this.o.url);
    } catch {
      log.error({ url: this.o.url }, 'bad SMPP URL');
      return;
    }
    const secure = url.protocol === 'ssmpp:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || (secure ? 3550 : 2775));
    const socket = secure
      ? tlsConnect({
        host, port, rejectUnauthorized: this.o.tlsRejectUnauthorized,
        // SNI carries host names only (RFC 6066); an address is still checked against the certificate
        ...(isIP(host) ? {} : { servername: host }), ...(this.o.tlsCa ? { ca: this.o.tlsCa } : {}),
      })
      : netConnect({ host, port });
    // the PDUs of one event-loop turn already go out in one write: Nagle's algorithm would only
    // hold a code's submit_sm back until the SMSC acknowledged the previous segment
    socket.setNoDelay(true);
    const link = new Link(socket);
    this.link = link;
    const connectTimer = setTimeout(() => {
      const e = new Error(`timeout of 10000 ms while connecting to ${host}:${port}`);
      socket.destroy(e);
    }, 10_000);
    connectTimer.unref();
    socket.on('error', (e: Error) => {
      log.warn({ error: e.message }, 'SMPP link error');
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      if (this.link !== link) return;
      this.teardown('closed');
      this.scheduleReconnect();
    });
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      if (this.link === link) this.bind(link, url);
    });
    socket.on('data', (chunk: Buffer) => this.onData(link, chunk));
    socket.on('drain', () => {
      link.blocked = false;
      if (this.link === link) this.drain();
    });
  }

  private bind(link: Link, url: URL): void {
    const log = this.o.logger;
    const pdu = encodeBindTransceiver(link.nextSeq(), { systemId: this.o.systemId, password: this.o.password, systemType: this.o.systemType ?? '' });
    link.request(pdu, this.o.responseTimeoutMs, (status) => {
      if (this.link !== link) return;
      if (status !== 0) {
        if (status === null) log.warn('SMPP bind unanswered');
        else log.warn({ status: `0x${status.toString(16)}` }, 'SMPP bind refused');
        link.socket.destroy();
        return;
      }
      this.bound = true;
      this.attempt = 0;
      log.info({ url: `${url.protocol}//${url.host}` }, 'SMPP bound as transceiver');
      this.scheduleEnquire();
      this.startSweep();
      this.emit('bound');
      this.drain();
    });
  }

  private onData(link: Link, chunk: Buffer): void {
    if (this.link !== link) return;
    link.reader.push(chunk);
    for (;;) {
      let pdu: Buffer | null;
      try {
        pdu = link.reader.next();
      } catch (e) {
        this.o.logger.warn({ error: (e as Error).message }, 'SMPP framing error; reconnecting');
        link.socket.destroy();
        return;
      }
      if (!pdu) return;
      this.onPdu(link, pdu);
      if (this.link !== link) return;
    }
  }

  private onPdu(link: Link, pdu: Buffer): void {
    const id = pdu.readUInt32BE(4);
    const status = pdu.readUInt32BE(8);
    const seq = pdu.readUInt32BE(12);
    switch (id) {
      case CMD.submit_sm_resp: {
        const p = this.awaiting.get(seq);
        if (p) this.onSubmitResp(p, status, pdu);
        return;
      }
      case CMD.generic_nack: {
        // a nack settles the request it answers (a nack never accepts anything)
        const st = status || ESME_RSYSERR;
        const p = this.awaiting.get(seq);
        if (p) this.onSubmitResp(p, st, null);
        else if (!link.answer(seq, st)) this.o.logger.warn({ status }, 'generic_nack from the SMSC');
        return;
      }
      case CMD.bind_transceiver_resp:
      case CMD.enquire_link_resp:
      case CMD.unbind_resp:
        link.answer(seq, status);
        return;
      case CMD.deliver_sm:
        this.onDeliverSm(link, pdu, seq);
        return;
      case CMD.enquire_link:
        link.send(encodeEnquireLinkResp(seq));
        return;
      case CMD.unbind:
        this.o.logger.info('SMSC asked to unbind');
        link.send(encodeUnbindResp(seq));
        if (this.bound) {
          this.bound = false;
          this.o.logger.warn({ reason: 'unbind' }, 'SMPP link down');
          this.emit('unbound');
        }
        setTimeout(() => link.socket.destroy(), 50);
        return;
      case CMD.outbind:
      case CMD.alert_notification:
        // no response is defined for these; we are bound already
        return;
      default:
        if (!V34_RESPONSES.has(id)) link.send(encodeGenericNack(seq, ESME_RINVCMDID));
    }
  }

  private onSubmitResp(p: Pending, st: number, pdu: Buffer | null): void {
    if (st === 0) {
      this.counters.accepted++;
      this.settle(p, { status: 'accepted', messageId: pdu ? submitSmRespMessageId(pdu) : '' });
      return;
    }
    if ((st === ESME_RTHROTTLED || st === ESME_RMSGQFUL) && p.busyRetries < this.o.maxRetriesOnBusy) {
      p.busyRetries++;
      const pause = st === ESME_RTHROTTLED ? this.o.throttlePauseMs : this.o.queueFullPauseMs;
      if (st === ESME_RTHROTTLED) this.counters.throttled++;
      else this.counters.queueFull++;
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pause);
      this.o.logger.info({ status: `0x${st.toString(16)}`, pauseMs: pause }, 'SMSC busy; pausing');
      this.settle(p, NOT_SENT, true);
      return;
    }
    this.counters.rejected++;
    this.settle(p, { status: 'rejected', commandStatus: st, permanent: isPermanent(st) });
  }

  private onDeliverSm(link: Link, pdu: Buffer, seq: number): void {
    this.counters.delivers++;
    const answer = (status: number): void => {
      // link gone: the SMSC will deliver it again
      if (!link.socket.destroyed) link.send(encodeDeliverSmResp(seq, status));
    };
    let d: DeliverSm;
    try {
      d = parseDeliverSm(pdu);
    } catch (e) {
      this.o.logger.warn({ error: (e as Error).message }, 'malformed deliver_sm');
      answer(0);
      return;
    }
    if (!this.deliverHandler) {
      answer(0x08);
      return;
    }
    let result: number | Promise<number>;
    try {
      result = this.deliverHandler(d);
    } catch (e) {
      this.o.logger.error({ err: e }, 'deliver_sm handler failed');
      answer(0x08);
      return;
    }
    if (typeof result === 'number') answer(result);
    else result.then(answer, () => answer(0x08));
  }

  private scheduleEnquire(): void {
    if (this.enquireTimer) clearTimeout(this.enquireTimer);
    this.enquireTimer = setTimeout(() => {
      this.enquireTimer = null;
      const link = this.link;
      if (!link || !this.bound) return;
      link.request(encodeEnquireLink(link.nextSeq()), this.o.responseTimeoutMs, (status) => {
        if (this.link !== link) return;
        if (status === null) {
          this.o.logger.warn('enquire_link unanswered; reconnecting');
          link.socket.destroy();
          return;
        }
        this.scheduleEnquire();
      });
    }, this.o.enquireLinkMs);
    this.enquireTimer.unref();
  }

  /** Response timeouts: one periodic check of the oldest submits in flight, not a timer each. */
  private startSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const every = Math.max(10, Math.min(100, Math.floor(this.o.responseTimeoutMs / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    if (this.awaiting.size === 0) return;
    const now = Date.now();
    for (const p of this.awaiting.values()) {
      if (p.deadline > now) return;
      this.counters.timeouts++;
      this.settle(p, TIMEOUT);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    const delay = backoffDelay(this.attempt, this.o.reconnectDelaysMs, Math.random, { jitter: 0.2, fallbackMs: 30_000 });
    this.attempt++;
    this.counters.reconnects++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /**
   * The link is gone: everything written and unanswered may or may not have arrived; what
   * was still waiting for this turn's write was never sent.
   */
  private teardown(reason: string): void {
    const link = this.link;
    this.link = null;
    const was = this.bound;
    this.bound = false;
    if (this.enquireTimer) clearTimeout(this.enquireTimer);
    this.enquireTimer = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (this.awaiting.size > 0) {
      const unwrittenFrom = this.awaiting.size - (link?.outSubmits ?? 0);
      let i = 0;
      for (const p of this.awaiting.values()) {
        p.seq = 0;
        this.inFlight--;
        p.resolve(i++ < unwrittenFrom ? UNKNOWN : NOT_SENT);
      }
      this.awaiting.clear();
      this.scheduleDrain();
    }
    if (link) {
      link.close();
      const s = link.socket;
      s.removeAllListeners('data');
      s.on('error', () => undefined);
      s.destroy();
    }
    if (was) {
      this.o.logger.warn({ reason }, 'SMPP link down');
      this.emit('unbound');
    }
  }

  /**
   * The throughput limit is a token bucket holding 50 ms worth of parts: smooth pacing, so
   * no one-second window at the SMSC ever sees more than the limit plus 5 %.
   */
  private bucketSize(): number {
    return this.o.tps > 0 ? Math.max(1, this.o.tps / 20) : 0;
  }

  private refill(now: number): void {
    if (this.o.tps <= 0) return;
    if (this.lastRefill === 0) this.lastRefill = now;
    this.tokens = Math.min(this.bucketSize(), this.tokens + ((now - this.lastRefill) / 1000) * this.o.tps);
    this.lastRefill = now;
  }

  private drain(): void {
    const link = this.link;
    while (this.queueHead < this.queue.length) {
      if (!link || !this.bound || this.stopping || link.blocked) return;
      if (this.inFlight >= this.o.window) return;
      const now = Date.now();
      if (now < this.pausedUntil) {
        this.wakeAt(this.pausedUntil - now);
        return;
      }
      if (this.o.tps > 0) {
        this.refill(now);
        if (this.tokens < 1) {
          this.wakeAt(Math.ceil(((1 - this.tokens) / this.o.tps) * 1000));
          return;
        }
        this.tokens -= 1;
      }
      const p = this.queue[this.queueHead] as Pending;
      this.queue[this.queueHead] = undefined as unknown as Pending;
      this.queueHead++;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      this.write(link, p, now);
    }
  }

  private drainScheduled = false;

  /** Answers arrive one by one; refill the window once per event-loop turn, in one write. */
  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(this.drainLater);
  }

  private readonly drainLater = (): void => {
    this.drainScheduled = false;
    this.drain();
  };

  private wakeAt(ms: number): void {
    if (this.pauseTimer) return;
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      this.drain();
    }, Math.max(1, ms));
  }

  private write(link: Link, p: Pending, now: number): void {
    this.inFlight++;
    this.counters.submitted++;
    const seq = link.nextSeq();
    let pdu: Buffer;
    try {
      pdu = encodeSubmitSm(seq, p.params);
    } catch (e) {
      this.o.logger.error({ error: (e as Error).message }, 'submit_sm could not be built');
      this.inFlight--;
      p.resolve({ status: 'rejected', commandStatus: ESME_RSYSERR, permanent: true });
      this.scheduleDrain();
      return;
    }
    p.seq = seq;
    p.deadline = now + this.o.responseTimeoutMs;
    this.awaiting.set(seq, p);
    link.send(pdu, true);
  }

  /** A submit is answered (or timed out): out of the window, to its caller or back to the head of the queue. */
  private settle(p: Pending, o: SubmitOutcome, requeue = false): void {
    this.awaiting.delete(p.seq);
    p.seq = 0;
    this.inFlight--;
    if (requeue) this.queue.splice(this.queueHead, 0, p);
    else p.resolve(o);
    this.scheduleDrain();
  }
}
