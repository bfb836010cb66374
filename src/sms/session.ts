import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import smpp from 'smpp';
import { backoffDelay } from '../domain/backoff.ts';
import type { Logger } from '../logger.ts';
import type { Address, DeliverSm } from './codec.ts';
import { parseDeliverSm } from './codec.ts';

/**
 * An SMPP v3.4 transceiver session to the SMSC, over the `smpp` library, adding what the
 * library lacks: a send window, response timeouts, enquire_link supervision, reconnect with
 * backoff and jitter, a throughput limit, pauses on throttling and full queues, and typed
 * outcomes. The only module besides the codec that knows SMPP; the only one importing `smpp`.
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
}

type LibPdu = Record<string, unknown> & {
  command: string;
  command_status: number;
  sequence_number: number;
  message_id?: string;
  response(o?: Record<string, unknown>): LibPdu;
};

type LibSession = EventEmitter & {
  socket: Socket;
  closed: boolean;
  send(pdu: LibPdu, onResp?: (p: LibPdu) => void, onSent?: () => void, onFail?: (p: LibPdu) => void): boolean;
  bind_transceiver(o: Record<string, unknown>, cb: (p: LibPdu) => void): void;
  submit_sm(o: Record<string, unknown>, cb: (p: LibPdu) => void, onSent?: () => void, onFail?: (p: LibPdu) => void): void;
  enquire_link(o: Record<string, unknown>, cb: (p: LibPdu) => void): void;
  unbind(o: Record<string, unknown>, cb: (p: LibPdu) => void): void;
  destroy(): void;
  close(): void;
};

type Lib = {
  connect(o: Record<string, unknown>): LibSession;
  PDU: { prototype: { fromBuffer: (b: Buffer) => unknown } } & (new (cmd: string, o: Record<string, unknown>) => LibPdu);
};

const lib = smpp as unknown as Lib;

// The library decodes short_message into text by its own rules; keep the raw bytes of every
// PDU it reads so deliver_sm can be decoded by our codec exactly as it came.
const RAW = Symbol('raw');
const originalFromBuffer = lib.PDU.prototype.fromBuffer;
lib.PDU.prototype.fromBuffer = function fromBuffer(this: Record<symbol, Buffer>, buf: Buffer) {
  this[RAW] = buf;
  return originalFromBuffer.call(this, buf);
};

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
  private lib: LibSession | null = null;
  private bound = false;
  private stopping = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private enquireTimer: NodeJS.Timeout | null = null;
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | null = null;
  private tokens: number;
  private lastRefill = 0;
  private tokenTimer: NodeJS.Timeout | null = null;
  private corked = false;
  private deliverHandler: ((d: InboundDeliver) => number | Promise<number>) | null = null;
  private readonly counters = { submitted: 0, accepted: 0, rejected: 0, throttled: 0, queueFull: 0, timeouts: 0, reconnects: 0, delivers: 0 };
  /** Submits written on the current link, awaiting their answer (so a drop can settle them). */
  private readonly awaiting = new Map<number, { settle: (o: SubmitOutcome) => void }>();

  constructor(opts: SessionOptions) {
    super();
    this.o = {
      window: 10, responseTimeoutMs: 30_000, enquireLinkMs: 30_000, tps: 0, reconnectDelaysMs: [1_000, 5_000, 15_000, 30_000],
      tlsRejectUnauthorized: true, throttlePauseMs: 1_000, queueFullPauseMs: 10_000, maxRetriesOnBusy: 5, ...opts,
    };
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
    if (this.stopping) return Promise.resolve({ status: 'not-sent' });
    return new Promise((resolve) => {
      this.queue.push({ params, resolve, busyRetries: 0 });
      this.drain();
    });
  }

  /** Stops: no new submits; waits (bounded) for answers in flight, unbinds, closes. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    // what waits in the queue was never written
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]?.resolve({ status: 'not-sent' });
    this.queue.length = 0;
    this.queueHead = 0;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline && this.lib) await new Promise((r) => setTimeout(r, 20));
    const s = this.lib;
    if (s && this.bound) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1_000);
        try {
          s.unbind({}, () => {
            clearTimeout(t);
            resolve();
          });
        } catch {
          clearTimeout(t);
          resolve();
        }
      });
    }
    this.teardown('stopped');
    this.clearTimers();
  }

  private clearTimers(): void {
    for (const t of [this.enquireTimer, this.pauseTimer, this.tokenTimer, this.reconnectTimer]) if (t) clearTimeout(t);
    this.enquireTimer = this.pauseTimer = this.tokenTimer = this.reconnectTimer = null;
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
    const tls = url.protocol === 'ssmpp:';
    const s = lib.connect({
      host: url.hostname, port: Number(url.port || (tls ? 3550 : 2775)), tls, connectTimeout: 10_000,
      ...(tls ? { rejectUnauthorized: this.o.tlsRejectUnauthorized,
        // SNI carries host names only (RFC 6066); an address is still checked against the certificate
        ...(isIP(url.hostname) ? {} : { servername: url.hostname }), ...(this.o.tlsCa ? { ca: this.o.tlsCa } : {}) } : {}),
    });
    this.lib = s;
    s.on('error', (e: Error) => {
      log.warn({ error: e.message }, 'SMPP link error');
    });
    s.on('close', () => {
      if (this.lib !== s) return;
      this.teardown('closed');
      this.scheduleReconnect();
    });
    s.on(tls ? 'secureConnect' : 'connect', () => {
      s.bind_transceiver({
        system_id: this.o.systemId, password: this.o.password, system_type: this.o.systemType ?? '', interface_version: 0x34,
      }, (pdu) => {
        if (this.lib !== s) return;
        if (pdu.command_status !== 0) {
          log.warn({ status: `0x${pdu.command_status.toString(16)}` }, 'SMPP bind refused');
          s.destroy();
          return;
        }
        this.bound = true;
        this.attempt = 0;
        log.info({ url: `${url.protocol}//${url.host}` }, 'SMPP bound as transceiver');
        this.scheduleEnquire();
        this.emit('bound');
        this.drain();
      });
    });
    s.on('deliver_sm', (pdu: LibPdu) => this.onDeliverSm(s, pdu));
    s.on('enquire_link', (pdu: LibPdu) => {
      s.send(pdu.response());
    });
    s.on('unbind', (pdu: LibPdu) => {
      log.info('SMSC asked to unbind');
      s.send(pdu.response());
      this.bound = false;
      setTimeout(() => s.destroy(), 50);
    });
    s.on('generic_nack', (pdu: LibPdu) => {
      // a nack for a sequence we wait for is settled by its callback; others are only noted
      if (!this.awaiting.has(pdu.sequence_number)) log.warn({ status: pdu.command_status }, 'generic_nack from the SMSC');
    });
    s.on('pdu', (pdu: LibPdu) => {
      if (pdu.command === 'unknown') s.send(pdu.response());
    });
  }

  private onDeliverSm(s: LibSession, pdu: LibPdu): void {
    this.counters.delivers++;
    const raw = (pdu as unknown as Record<symbol, Buffer | undefined>)[RAW];
    const answer = (status: number): void => {
      try {
        s.send(pdu.response({ command_status: status }));
      } catch {
        // link gone; the SMSC will deliver it again
      }
    };
    let d: DeliverSm;
    try {
      if (!raw) throw new RangeError('raw PDU missing');
      d = parseDeliverSm(raw);
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
      const s = this.lib;
      if (!s || !this.bound) return;
      const t = setTimeout(() => {
        if (this.lib !== s) return;
        this.o.logger.warn('enquire_link unanswered; reconnecting');
        s.destroy();
      }, this.o.responseTimeoutMs);
      try {
        s.enquire_link({}, () => {
          clearTimeout(t);
          this.scheduleEnquire();
        });
      } catch {
        clearTimeout(t);
      }
    }, this.o.enquireLinkMs);
    this.enquireTimer.unref();
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

  /** The link is gone: everything written and unanswered may or may not have arrived. */
  private teardown(reason: string): void {
    const s = this.lib;
    this.lib = null;
    const was = this.bound;
    this.bound = false;
    if (this.enquireTimer) clearTimeout(this.enquireTimer);
    this.enquireTimer = null;
    for (const [, a] of this.awaiting) a.settle({ status: 'unknown' });
    this.awaiting.clear();
    if (s) {
      try {
        s.removeAllListeners('deliver_sm');
        s.on('error', () => undefined);
        s.destroy();
      } catch {
        // already destroyed
      }
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
    const s = this.lib;
    while (this.queueHead < this.queue.length) {
      if (!s || !this.bound || this.stopping) return;
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
      this.write(s, p);
    }
  }

  private drainScheduled = false;

  /** Answers arrive one by one; refill the window once per event-loop turn, in one corked write. */
  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private wakeAt(ms: number): void {
    if (this.pauseTimer) return;
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      this.drain();
    }, Math.max(1, ms));
  }

  private cork(s: LibSession): void {
    if (this.corked) return;
    this.corked = true;
    s.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      s.socket.uncork();
    });
  }

  private write(s: LibSession, p: Pending): void {
    this.inFlight++;
    this.counters.submitted++;
    let done = false;
    let seq = 0;
    let timer: NodeJS.Timeout | undefined;
    const settle = (o: SubmitOutcome, requeue = false): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (seq) this.awaiting.delete(seq);
      this.inFlight--;
      if (requeue) {
        this.queue.splice(this.queueHead, 0, p);
      } else {
        p.resolve(o);
      }
      this.scheduleDrain();
    };
    const params = p.params;
    const pdu: Record<string, unknown> = {
      service_type: '',
      source_addr_ton: params.source.ton, source_addr_npi: params.source.npi, source_addr: params.source.addr,
      dest_addr_ton: params.destination.ton, dest_addr_npi: params.destination.npi, destination_addr: params.destination.addr,
      esm_class: params.esmClass, data_coding: params.dataCoding, short_message: params.shortMessage,
      registered_delivery: params.registeredDelivery, priority_flag: params.priority ?? 0,
      ...(params.validityPeriod ? { validity_period: params.validityPeriod } : {}),
    };
    this.cork(s);
    try {
      const req = new lib.PDU('submit_sm', pdu);
      const onResp = (resp: LibPdu): void => {
        if (resp.command_status === 0) {
          this.counters.accepted++;
          settle({ status: 'accepted', messageId: String(resp.message_id ?? '') });
          return;
        }
        const st = resp.command_status;
        if ((st === ESME_RTHROTTLED || st === ESME_RMSGQFUL) && p.busyRetries < this.o.maxRetriesOnBusy) {
          p.busyRetries++;
          const pause = st === ESME_RTHROTTLED ? this.o.throttlePauseMs : this.o.queueFullPauseMs;
          if (st === ESME_RTHROTTLED) this.counters.throttled++;
          else this.counters.queueFull++;
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pause);
          this.o.logger.info({ status: `0x${st.toString(16)}`, pauseMs: pause }, 'SMSC busy; pausing');
          settle({ status: 'not-sent' }, true);
          return;
        }
        this.counters.rejected++;
        settle({ status: 'rejected', commandStatus: st, permanent: isPermanent(st) });
      };
      const written = s.send(req, onResp, undefined, () => settle({ status: 'not-sent' }));
      if (!written) {
        settle({ status: 'not-sent' });
        return;
      }
      seq = req.sequence_number;
      this.awaiting.set(seq, { settle: (o) => settle(o) });
      timer = setTimeout(() => {
        this.counters.timeouts++;
        settle({ status: 'timeout' });
      }, this.o.responseTimeoutMs);
    } catch (e) {
      this.o.logger.error({ error: (e as Error).message }, 'submit_sm could not be built');
      settle({ status: 'rejected', commandStatus: 0x08, permanent: true });
    }
  }
}
