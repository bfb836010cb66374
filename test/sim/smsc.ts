/**
 * SMSC simulator: an SMPP v3.4 server on 127.0.0.1, port 0, written from the specification
 * with its own PDU reader and writer (it shares no code with the client it tests).
 *
 * Covers (SMPP v3.4 section numbers):
 * - bind_transmitter / bind_receiver / bind_transceiver and their responses (4.1), with
 *   system_id / password checks (ESME_RINVSYSID, ESME_RINVPASWD) or a refusal on demand;
 * - submit_sm (4.4) with every mandatory field and the TLVs it is sent, submit_sm_resp with a
 *   message_id in hexadecimal or decimal; the UDH concatenation elements (IEI 0x00 and 0x08);
 *   text decoding for data_coding 0 (GSM 03.38 default alphabet, unpacked, with extension
 *   table), 3 (Latin-1), 8 (UCS-2);
 * - deliver_sm (4.6) towards the client: mobile-originated messages (GSM, UCS-2 or raw bytes,
 *   with a UDH or SAR TLVs 0x020C/0x020E/0x020F) and delivery receipts (esm_class 0x04) with
 *   the text form `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` and/or
 *   the TLVs receipted_message_id (0x001E) and message_state (0x0427); deliver_sm_resp is
 *   recorded with its status;
 * - enquire_link (4.11) both ways, unbind (4.2) both ways, generic_nack (4.3) for unknown
 *   commands and on demand.
 * Misbehaviours on demand: refused binds, ESME_RTHROTTLED / ESME_RMSGQFUL / any status for
 * the next N submits, submits never answered, submits answered with generic_nack, the link
 * dropped after K submits (mid-window), delayed answers, receipts with ids in another base,
 * outgoing PDUs written in fragments, enquire_link never answered.
 * Not covered: data_sm, query_sm, cancel_sm, replace_sm, submit_multi, outbind, alert_notification.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export const CMD = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001, bind_receiver_resp: 0x80000001,
  bind_transmitter: 0x00000002, bind_transmitter_resp: 0x80000002,
  submit_sm: 0x00000004, submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005, deliver_sm_resp: 0x80000005,
  unbind: 0x00000006, unbind_resp: 0x80000006,
  bind_transceiver: 0x00000009, bind_transceiver_resp: 0x80000009,
  enquire_link: 0x00000015, enquire_link_resp: 0x80000015,
} as const;

export const STATUS = {
  ROK: 0x00, RINVCMDLEN: 0x02, RINVCMDID: 0x03, RALYBND: 0x05, RSYSERR: 0x08, RINVDSTADR: 0x0b, RBINDFAIL: 0x0d,
  RINVPASWD: 0x0e, RINVSYSID: 0x0f, RMSGQFUL: 0x14, RTHROTTLED: 0x58,
} as const;

// ---------------------------------------------------------------- PDU reading and writing

export interface RawPdu {
  commandId: number;
  status: number;
  sequence: number;
  body: Buffer;
}

class Reader {
  o = 0;
  constructor(private readonly b: Buffer) {}
  u8(): number {
    if (this.o >= this.b.length) throw new RangeError('PDU ends early');
    return this.b[this.o++] as number;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.o);
    if (end < 0) throw new RangeError('unterminated C-octet string');
    const s = this.b.toString('latin1', this.o, end);
    this.o = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    if (this.o + n > this.b.length) throw new RangeError('PDU ends early');
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return Buffer.from(v);
  }
  tlvs(): Map<number, Buffer> {
    const m = new Map<number, Buffer>();
    while (this.o + 4 <= this.b.length) {
      const tag = this.b.readUInt16BE(this.o);
      const len = this.b.readUInt16BE(this.o + 2);
      this.o += 4;
      m.set(tag, this.bytes(len));
    }
    return m;
  }
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])]);
}

export function encodePdu(commandId: number, status: number, sequence: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(commandId >>> 0, 4);
  head.writeUInt32BE(status, 8);
  head.writeUInt32BE(sequence, 12);
  return Buffer.concat([head, body]);
}

function tlv(tag: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(tag, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

// ---------------------------------------------------------------- text (GSM 03.38, UCS-2)

const GSM =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXT: Record<number, string> = { 0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€' };
const GSM_EXT_REV = new Map(Object.entries(GSM_EXT).map(([k, v]) => [v, Number(k)]));

export function gsmDecode(b: Buffer): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = (b[i] as number) & 0x7f;
    if (c === 0x1b && i + 1 < b.length) s += GSM_EXT[(b[++i] as number) & 0x7f] ?? '?';
    else s += GSM[c] ?? '?';
  }
  return s;
}

export function gsmEncode(s: string): Buffer | null {
  const out: number[] = [];
  for (const ch of s) {
    const i = GSM.indexOf(ch);
    if (i >= 0 && i !== 0x1b) out.push(i);
    else if (GSM_EXT_REV.has(ch)) out.push(0x1b, GSM_EXT_REV.get(ch) as number);
    else return null;
  }
  return Buffer.from(out);
}

export function ucs2Decode(b: Buffer): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b.readUInt16BE(i));
  return s;
}

export function ucs2Encode(s: string): Buffer {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

// ---------------------------------------------------------------- records

export interface Submit {
  sequence: number;
  session: number;
  at: number;
  serviceType: string;
  source: { ton: number; npi: number; addr: string };
  destination: { ton: number; npi: number; addr: string };
  esmClass: number;
  protocolId: number;
  priority: number;
  schedule: string;
  validityPeriod: string;
  registeredDelivery: number;
  dataCoding: number;
  shortMessage: Buffer;
  tlvs: Map<number, Buffer>;
  udh: Buffer | null;
  concat: { ref: number; total: number; seq: number } | null;
  /** Decoded text of this part (without the UDH), or null for binary. */
  text: string | null;
  /** The id we answered with, when we answered with success. */
  messageId: string | null;
  answered: number | 'none' | 'nack';
}

export interface Behaviour {
  /** Refuse binds with this status (0: accept). */
  refuseBind: number;
  /** Answer the next N submits with ESME_RTHROTTLED. */
  throttleNext: number;
  /** Answer the next N submits with ESME_RMSGQFUL. */
  queueFullNext: number;
  /** Answer the next N submits with `errorStatus`. */
  errorNext: number;
  errorStatus: number;
  /** Never answer submits. */
  swallowSubmits: boolean;
  /** Answer the next N submits with generic_nack (status ESME_RSYSERR). */
  nackNext: number;
  /** Drop the TCP link after this many more submits are received (0: never). */
  dropAfterSubmits: number;
  /** Delay every answer by this many ms. */
  responseDelayMs: number;
  /** Write outgoing PDUs in fragments of this many bytes (0: whole). */
  fragmentBytes: number;
  /** Never answer enquire_link. */
  ignoreEnquireLink: boolean;
  /** Format of message ids in submit_sm_resp. */
  idFormat: 'hex' | 'decimal';
  /** Send automatic receipts this long after a submit that asked for one (-1: never). */
  autoReceiptMs: number;
  /** Receipts give the id in the other base, zero-padded to 10 characters. */
  receiptIdOtherBase: boolean;
  receiptTlvs: boolean;
  receiptText: boolean;
}

const DEFAULT_BEHAVIOUR: Behaviour = {
  refuseBind: 0, throttleNext: 0, queueFullNext: 0, errorNext: 0, errorStatus: STATUS.RINVDSTADR, swallowSubmits: false,
  nackNext: 0, dropAfterSubmits: 0, responseDelayMs: 0, fragmentBytes: 0, ignoreEnquireLink: false, idFormat: 'hex',
  autoReceiptMs: -1, receiptIdOtherBase: false, receiptTlvs: true, receiptText: true,
};

interface Conn {
  id: number;
  socket: Socket;
  buf: Buffer;
  bound: 'none' | 'tx' | 'rx' | 'trx';
  systemId: string;
  seq: number;
  /** When fragmenting: the time the last queued fragment goes out (keeps PDUs in order). */
  fragmentsUntil: number;
}

export interface SmscOptions {
  systemId?: string;
  password?: string;
  port?: number;
  /** Listen with TLS (ssmpp://) using this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  behaviour?: Partial<Behaviour>;
}

export class SmscSim {
  server: Server | null = null;
  port = 0;
  private readonly systemId: string | undefined;
  private readonly password: string | undefined;
  b: Behaviour;
  readonly conns = new Map<number, Conn>();
  private nextConn = 1;
  private nextMessageId = 0x1000;
  readonly submits: Submit[] = [];
  readonly pdusIn: Array<{ conn: number; commandId: number; status: number; sequence: number; at: number }> = [];
  readonly deliverResps: Array<{ sequence: number; status: number }> = [];
  readonly enquireLinksAnswered: number[] = [];
  binds = 0;
  /** Submits received and not yet answered, now and at most. */
  outstanding = 0;
  maxOutstanding = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiters: Array<() => void> = [];

  private readonly tls: SmscOptions['tls'];

  private constructor(opts: SmscOptions) {
    this.tls = opts.tls;
    this.systemId = opts.systemId;
    this.password = opts.password;
    this.b = { ...DEFAULT_BEHAVIOUR, ...opts.behaviour };
  }

  static async start(opts: SmscOptions = {}): Promise<SmscSim> {
    const sim = new SmscSim(opts);
    await sim.listen(opts.port ?? 0);
    return sim;
  }

  get url(): string {
    return `${this.tls ? 'ssmpp' : 'smpp'}://127.0.0.1:${this.port}`;
  }

  behave(b: Partial<Behaviour>): void {
    Object.assign(this.b, b);
  }

  /** Sessions bound right now. */
  get boundCount(): number {
    let n = 0;
    for (const c of this.conns.values()) if (c.bound !== 'none') n++;
    return n;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = this.tls
        ? createTlsServer({ cert: this.tls.cert, key: this.tls.key }, (socket) => this.accept(socket))
        : createServer((socket) => this.accept(socket));
      server.on('tlsClientError', () => undefined);
      server.on('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const a = server.address();
        this.port = typeof a === 'object' && a ? a.port : 0;
        this.server = server;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    // a new link starts with nothing outstanding (what the old one had died with it)
    if (this.boundCount === 0) this.outstanding = 0;
    socket.setNoDelay(true);
    const conn: Conn = { id: this.nextConn++, socket, buf: Buffer.alloc(0), bound: 'none', systemId: '', seq: 0, fragmentsUntil: 0 };
    this.conns.set(conn.id, conn);
    socket.on('data', (d: Buffer) => this.onData(conn, d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.conns.delete(conn.id);
      this.notify();
    });
  }

  private onData(conn: Conn, d: Buffer): void {
    conn.buf = conn.buf.length ? Buffer.concat([conn.buf, d]) : d;
    while (conn.buf.length >= 16) {
      const len = conn.buf.readUInt32BE(0);
      if (len < 16 || len > 65_536) {
        this.write(conn, encodePdu(CMD.generic_nack, STATUS.RINVCMDLEN, 0));
        conn.socket.end();
        conn.buf = Buffer.alloc(0);
        return;
      }
      if (conn.buf.length < len) return;
      const pdu = conn.buf.subarray(0, len);
      conn.buf = conn.buf.subarray(len);
      this.onPdu(conn, {
        commandId: pdu.readUInt32BE(4), status: pdu.readUInt32BE(8), sequence: pdu.readUInt32BE(12), body: Buffer.from(pdu.subarray(16)),
      });
    }
  }

  /** Writes a PDU; returns whether it was handed to the socket (or queued in fragments). */
  private write(conn: Conn, bytes: Buffer): boolean {
    if (conn.socket.destroyed) return false;
    const frag = this.b.fragmentBytes;
    if (frag <= 0) {
      conn.socket.write(bytes);
      return true;
    }
    // fragments of one PDU go out a few ms apart, and after those of the PDU before it
    const now = Date.now();
    let at = Math.max(now, conn.fragmentsUntil);
    for (let i = 0; i < bytes.length; i += frag) {
      const piece = bytes.subarray(i, i + frag);
      this.later(at - now, () => {
        if (!conn.socket.destroyed) conn.socket.write(piece);
      });
      at += 2;
    }
    conn.fragmentsUntil = at;
    return true;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Answers, after the configured delay; `onWritten` runs only if the answer really left. */
  private answer(conn: Conn, bytes: Buffer, onWritten?: () => void): void {
    const send = (): void => {
      if (this.write(conn, bytes)) onWritten?.();
    };
    if (this.b.responseDelayMs > 0) this.later(this.b.responseDelayMs, send);
    else send();
  }

  private onPdu(conn: Conn, p: RawPdu): void {
    this.pdusIn.push({ conn: conn.id, commandId: p.commandId, status: p.status, sequence: p.sequence, at: Date.now() });
    switch (p.commandId) {
      case CMD.bind_transceiver:
      case CMD.bind_transmitter:
      case CMD.bind_receiver:
        this.onBind(conn, p);
        break;
      case CMD.submit_sm:
        this.onSubmit(conn, p);
        break;
      case CMD.enquire_link:
        if (!this.b.ignoreEnquireLink) this.write(conn, encodePdu(CMD.enquire_link_resp, 0, p.sequence));
        break;
      case CMD.enquire_link_resp:
        this.enquireLinksAnswered.push(p.sequence);
        break;
      case CMD.unbind:
        this.write(conn, encodePdu(CMD.unbind_resp, 0, p.sequence));
        conn.bound = 'none';
        this.later(10, () => conn.socket.end());
        break;
      case CMD.unbind_resp:
        conn.socket.end();
        break;
      case CMD.deliver_sm_resp:
        this.deliverResps.push({ sequence: p.sequence, status: p.status });
        break;
      case CMD.generic_nack:
        break;
      default:
        this.write(conn, encodePdu(CMD.generic_nack, STATUS.RINVCMDID, p.sequence));
    }
    this.notify();
  }

  private onBind(conn: Conn, p: RawPdu): void {
    const r = new Reader(p.body);
    const systemId = r.cstr();
    const password = r.cstr();
    const respId = (p.commandId | 0x80000000) >>> 0;
    let status: number = STATUS.ROK;
    if (conn.bound !== 'none') status = STATUS.RALYBND;
    else if (this.b.refuseBind) status = this.b.refuseBind;
    else if (this.systemId !== undefined && systemId !== this.systemId) status = STATUS.RINVSYSID;
    else if (this.password !== undefined && password !== this.password) status = STATUS.RINVPASWD;
    if (status !== STATUS.ROK) {
      this.write(conn, encodePdu(respId, status, p.sequence));
      return;
    }
    conn.bound = p.commandId === CMD.bind_transceiver ? 'trx' : p.commandId === CMD.bind_transmitter ? 'tx' : 'rx';
    conn.systemId = systemId;
    this.binds++;
    this.write(conn, encodePdu(respId, 0, p.sequence, cstr('SIMSMSC')));
  }

  private newMessageId(): string {
    const n = this.nextMessageId++;
    return this.b.idFormat === 'hex' ? n.toString(16) : String(n);
  }

  private onSubmit(conn: Conn, p: RawPdu): void {
    let s: Submit;
    try {
      s = this.decodeSubmit(conn, p);
    } catch {
      this.write(conn, encodePdu(CMD.generic_nack, STATUS.RINVCMDLEN, p.sequence));
      return;
    }
    this.submits.push(s);
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    const resp = (status: number, id: string | null): void => {
      s.messageId = id;
      this.answer(conn, encodePdu(CMD.submit_sm_resp, status, p.sequence, status === 0 ? cstr(id ?? '') : Buffer.alloc(0)), () => {
        s.answered = status;
        this.outstanding--;
      });
    };
    if (conn.bound === 'none' || conn.bound === 'rx') {
      resp(0x04, null); // ESME_RINVBNDSTS
    } else if (this.b.swallowSubmits) {
      s.answered = 'none';
    } else if (this.b.nackNext > 0) {
      this.b.nackNext--;
      this.answer(conn, encodePdu(CMD.generic_nack, STATUS.RSYSERR, p.sequence), () => {
        s.answered = 'nack';
        this.outstanding--;
      });
    } else if (this.b.throttleNext > 0) {
      this.b.throttleNext--;
      resp(STATUS.RTHROTTLED, null);
    } else if (this.b.queueFullNext > 0) {
      this.b.queueFullNext--;
      resp(STATUS.RMSGQFUL, null);
    } else if (this.b.errorNext > 0) {
      this.b.errorNext--;
      resp(this.b.errorStatus, null);
    } else {
      const id = this.newMessageId();
      resp(0, id);
      if (this.b.autoReceiptMs >= 0 && (s.registeredDelivery & 0x03) !== 0) {
        this.later(this.b.autoReceiptMs, () => this.sendReceipt(id, 'DELIVRD'));
      }
    }
    if (this.b.dropAfterSubmits > 0) {
      this.b.dropAfterSubmits--;
      if (this.b.dropAfterSubmits === 0) this.later(5, () => conn.socket.destroy());
    }
  }

  private decodeSubmit(conn: Conn, p: RawPdu): Submit {
    const r = new Reader(p.body);
    const serviceType = r.cstr();
    const source = { ton: r.u8(), npi: r.u8(), addr: r.cstr() };
    const destination = { ton: r.u8(), npi: r.u8(), addr: r.cstr() };
    const esmClass = r.u8();
    const protocolId = r.u8();
    const priority = r.u8();
    const schedule = r.cstr();
    const validityPeriod = r.cstr();
    const registeredDelivery = r.u8();
    r.u8(); // replace_if_present_flag
    const dataCoding = r.u8();
    r.u8(); // sm_default_msg_id
    const smLength = r.u8();
    let shortMessage = r.bytes(smLength);
    const tlvs = r.tlvs();
    const payload = tlvs.get(0x0424);
    if (smLength === 0 && payload) shortMessage = payload;
    let udh: Buffer | null = null;
    let concat: Submit['concat'] = null;
    let body = shortMessage;
    if (esmClass & 0x40 && shortMessage.length > 0) {
      const l = shortMessage[0] as number;
      udh = shortMessage.subarray(0, l + 1);
      body = shortMessage.subarray(l + 1);
      for (let i = 1; i + 1 < udh.length;) {
        const iei = udh[i] as number;
        const len = udh[i + 1] as number;
        if (iei === 0x00 && len === 3) concat = { ref: udh[i + 2] as number, total: udh[i + 3] as number, seq: udh[i + 4] as number };
        if (iei === 0x08 && len === 4) concat = { ref: udh.readUInt16BE(i + 2), total: udh[i + 4] as number, seq: udh[i + 5] as number };
        i += 2 + len;
      }
    }
    const sarRef = tlvs.get(0x020c);
    if (!concat && sarRef) {
      concat = { ref: sarRef.length >= 2 ? sarRef.readUInt16BE(0) : (sarRef[0] ?? 0), total: tlvs.get(0x020e)?.[0] ?? 0, seq: tlvs.get(0x020f)?.[0] ?? 0 };
    }
    const text = dataCoding === 0 ? gsmDecode(body) : dataCoding === 8 ? ucs2Decode(body) : dataCoding === 3 ? body.toString('latin1') : null;
    return {
      sequence: p.sequence, session: conn.id, at: Date.now(), serviceType, source, destination, esmClass, protocolId, priority, schedule,
      validityPeriod, registeredDelivery, dataCoding, shortMessage, tlvs, udh, concat, text, messageId: null, answered: 'none',
    };
  }

  private receiver(): Conn | undefined {
    for (const c of this.conns.values()) if (c.bound === 'trx' || c.bound === 'rx') return c;
    return undefined;
  }

  private deliver(body: Buffer): number {
    const conn = this.receiver();
    if (!conn) throw new Error('no bound receiver to deliver to');
    const seq = ++conn.seq + 0x10000;
    this.write(conn, encodePdu(CMD.deliver_sm, 0, seq, body));
    return seq;
  }

  private deliverBody(a: { from: string; fromTon?: number; to: string; esmClass: number; dataCoding: number; message: Buffer; tlvs?: Buffer[] }): Buffer {
    return Buffer.concat([
      cstr(''), Buffer.from([a.fromTon ?? 1, 1]), cstr(a.from), Buffer.from([1, 1]), cstr(a.to),
      Buffer.from([a.esmClass, 0, 0]), cstr(''), cstr(''), Buffer.from([0, 0, a.dataCoding, 0, a.message.length]), a.message,
      ...(a.tlvs ?? []),
    ]);
  }

  /** Sends a delivery receipt for `messageId` (as the client was given it). */
  sendReceipt(messageId: string, stat: 'DELIVRD' | 'EXPIRED' | 'DELETED' | 'UNDELIV' | 'ACCEPTD' | 'UNKNOWN' | 'REJECTD', err = '000'): number {
    let id = messageId;
    if (this.b.receiptIdOtherBase) {
      id = this.b.idFormat === 'hex' ? BigInt('0x' + messageId).toString(10).padStart(10, '0') : BigInt(messageId).toString(16).toUpperCase().padStart(10, '0');
    }
    const states: Record<string, number> = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };
    const d = new Date();
    const ts = `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const text = this.b.receiptText
      ? `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${ts} done date:${ts} stat:${stat} err:${err} text:`
      : '';
    const tlvs = this.b.receiptTlvs ? [tlv(0x001e, cstr(id)), tlv(0x0427, Buffer.from([states[stat] ?? 7]))] : [];
    const submit = this.submits.find((s) => s.messageId === messageId);
    return this.deliver(this.deliverBody({
      from: submit?.destination.addr ?? '77000000000', to: submit?.source.addr ?? 'ZHEDEL', esmClass: 0x04, dataCoding: 0,
      message: Buffer.from(text, 'latin1'), tlvs,
    }));
  }

  /** A message from a phone: GSM 7-bit when it fits, else UCS-2 (or the coding given). */
  sendMo(a: { from: string; to?: string; text?: string; bytes?: Buffer; dataCoding?: number; udh?: { ref: number; total: number; seq: number }; sar?: { ref: number; total: number; seq: number }; fromTon?: number }): number {
    let dataCoding = a.dataCoding;
    let message: Buffer;
    if (a.bytes) {
      message = a.bytes;
      dataCoding ??= 4;
    } else {
      const text = a.text ?? '';
      const gsm = dataCoding === undefined || dataCoding === 0 ? gsmEncode(text) : null;
      if (gsm) {
        message = gsm;
        dataCoding = 0;
      } else if (dataCoding === 3) {
        message = Buffer.from(text, 'latin1');
      } else {
        message = ucs2Encode(text);
        dataCoding = 8;
      }
    }
    let esmClass = 0;
    if (a.udh) {
      message = Buffer.concat([Buffer.from([5, 0, 3, a.udh.ref, a.udh.total, a.udh.seq]), message]);
      esmClass = 0x40;
    }
    const tlvs = a.sar ? [tlv(0x020c, Buffer.from([a.sar.ref >> 8, a.sar.ref & 0xff])), tlv(0x020e, Buffer.from([a.sar.total])), tlv(0x020f, Buffer.from([a.sar.seq]))] : [];
    return this.deliver(this.deliverBody({ from: a.from, ...(a.fromTon !== undefined ? { fromTon: a.fromTon } : {}), to: a.to ?? '7575', esmClass, dataCoding: dataCoding ?? 0, message, tlvs }));
  }

  /** Sends a long text as concatenated parts (UDH or SAR), in the given order of part numbers. */
  sendLongMo(a: { from: string; text: string; partChars?: number; ref?: number; order?: number[]; sar?: boolean }): void {
    const size = a.partChars ?? 67;
    const chunks: string[] = [];
    for (let i = 0; i < a.text.length; i += size) chunks.push(a.text.slice(i, i + size));
    const order = a.order ?? chunks.map((_, i) => i + 1);
    for (const seq of order) {
      const info = { ref: a.ref ?? 7, total: chunks.length, seq };
      this.sendMo({ from: a.from, text: chunks[seq - 1] ?? '', dataCoding: 8, ...(a.sar ? { sar: info } : { udh: info }) });
    }
  }

  /** Sends enquire_link to every bound client. */
  enquireLink(): void {
    for (const c of this.conns.values()) if (c.bound !== 'none') this.write(c, encodePdu(CMD.enquire_link, 0, ++c.seq + 0x20000));
  }

  /** Asks every bound client to unbind. */
  unbindAll(): void {
    for (const c of this.conns.values()) if (c.bound !== 'none') this.write(c, encodePdu(CMD.unbind, 0, ++c.seq + 0x30000));
  }

  /** Writes raw bytes to every connection (for malformed-input tests). */
  writeRaw(bytes: Buffer): void {
    for (const c of this.conns.values()) c.socket.write(bytes);
  }

  /** Cuts every TCP connection at once (the SMSC goes away). */
  dropAll(): void {
    for (const c of this.conns.values()) c.socket.destroy();
  }

  /** Stops listening and cuts every connection; `start()` listens again on the same port. */
  async stop(): Promise<void> {
    this.dropAll();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.stop();
    for (const w of this.waiters) w();
    this.waiters = [];
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds (checked after every PDU and connection change); rejects on timeout. */
  waitFor<T>(pred: () => T | undefined | null | false, timeoutMs = 5_000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const start = Date.now();
      const check = (): void => {
        let v: T | undefined | null | false;
        try {
          v = pred();
        } catch (e) {
          reject(e);
          return;
        }
        if (v) {
          clearInterval(poll);
          resolve(v);
          return;
        }
        if (Date.now() - start > timeoutMs) {
          clearInterval(poll);
          reject(new Error(`SMSC simulator: timed out waiting for ${what}`));
          return;
        }
        this.waiters.push(check);
      };
      const poll = setInterval(() => {
        // time-based conditions (no PDU arrives) are re-checked here
        const i = this.waiters.indexOf(check);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          check();
        }
      }, 20);
      check();
    });
  }

  /** Submits addressed to a number (digits, no '+'), in arrival order. */
  submitsTo(addr: string): Submit[] {
    const d = addr.replace(/^\+/, '');
    return this.submits.filter((s) => s.destination.addr === d);
  }

  /** The whole texts sent to a number: parts joined by their concatenation reference. */
  textsTo(addr: string): string[] {
    const out: string[] = [];
    const groups = new Map<string, Submit[]>();
    for (const s of this.submitsTo(addr)) {
      if (!s.concat) {
        out.push(s.text ?? '');
        continue;
      }
      const k = `${s.concat.ref}/${s.concat.total}`;
      const g = groups.get(k) ?? [];
      if (!g.some((x) => x.concat?.seq === s.concat?.seq)) g.push(s);
      groups.set(k, g);
      if (g.length === s.concat.total) {
        out.push(g.sort((a, b) => (a.concat?.seq ?? 0) - (b.concat?.seq ?? 0)).map((x) => x.text ?? '').join(''));
        groups.delete(k);
      }
    }
    return out;
  }
}
