/**
 * An alarm panel's IP communicator speaking SIA DC-09, independent of the receiver's code.
 *
 * Covers from ANSI/SIA DC-09:
 * - message framing <LF><crc><0LLL>"<id>"<seq>[R<rcvr>]L<line>#<acct>[<data>][<x-data>]<timestamp><CR>,
 *   CRC-16/ARC (bit by bit) and the hexadecimal length over the quoted id to the end of the timestamp;
 * - tokens SIA-DCS (SIA DC-03 data), ADM-CID (Contact ID data) and NULL (link test), clear or encrypted
 *   ("*" token, AES-128/192/256-CBC with a zero IV over <pad>|<data>…<timestamp>, sent as hex);
 * - sequence numbers 0001–9999 then back to 0001;
 * - transport over TCP (one connection, replies read up to CR) and UDP (one datagram each way);
 * - reading the receiver's ACK (clear or encrypted "*ACK"), NAK (with the receiver's time) and DUH.
 * Faults on demand: a wrong CRC, a timestamp shifted out of the receiver's window, a replayed sequence.
 * Not covered: supervision timing, retry schedules, the receiver's time sync from a NAK, extended data.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

export type PanelToken = 'SIA-DCS' | 'ADM-CID' | 'NULL';

export interface PanelOptions {
  host?: string;
  port: number;
  transport: 'tcp' | 'udp';
  account: string;
  receiver?: string;
  line?: string;
  /** Hex AES key: messages and their ACKs are encrypted. */
  key?: string;
  /** Time a reply may take before send() rejects. */
  replyTimeoutMs?: number;
}

export interface SendOptions {
  token?: PanelToken;
  /** Data between the brackets, e.g. "#1234|1130 01 015" or "#1234|Nri1/BA015". Default: none (NULL). */
  data?: string;
  badCrc?: boolean;
  /** Shifts the message's timestamp by this many milliseconds (negative: stale). */
  clockSkewMs?: number;
  /** Sends with the previous message's sequence number. */
  replay?: boolean;
  /** Sends without a timestamp (clear messages only). */
  noTimestamp?: boolean;
}

export interface PanelReply {
  token: 'ACK' | 'NAK' | 'DUH';
  encrypted: boolean;
  seq: string;
  account: string | null;
  /** Receiver's timestamp when the reply carried one (NAK always; encrypted ACK always). */
  timestamp: string | null;
  /** The reply's CRC matched. */
  crcOk: boolean;
  raw: string;
}

export function crcArc(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'latin1')) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

const h4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
const two = (n: number): string => String(n).padStart(2, '0');

export function stamp(d: Date): string {
  return `_${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())},${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}-${d.getUTCFullYear()}`;
}

function aes(keyHex: string, decrypt: boolean): ReturnType<typeof createCipheriv> {
  const key = Buffer.from(keyHex, 'hex');
  const name = `aes-${key.length * 8}-cbc`;
  const c = decrypt ? createDecipheriv(name, key, Buffer.alloc(16)) : createCipheriv(name, key, Buffer.alloc(16));
  c.setAutoPadding(false);
  return c;
}

/** One message as the panel sends it. */
export function encodeMessage(
  m: { token: PanelToken; seq: number; receiver?: string; line: string; account: string; data: string; key?: string; time: Date | null },
  badCrc = false,
): Buffer {
  let body = `"${m.key ? '*' : ''}${m.token}"${String(m.seq).padStart(4, '0')}${m.receiver ? `R${m.receiver}` : ''}L${m.line}#${m.account}[`;
  const tail = `${m.data}]${m.time ? stamp(m.time) : ''}`;
  if (m.key) {
    const padCount = 16 - ((tail.length + 1) % 16);
    // pad from letters only: never "|", "[" or "]"
    const pad = [...randomBytes(padCount)].map((b) => String.fromCharCode(0x41 + (b % 26))).join('');
    const c = aes(m.key, false);
    body += Buffer.concat([c.update(`${pad}|${tail}`, 'latin1'), c.final()]).toString('hex').toUpperCase();
  } else {
    body += tail;
  }
  const crc = crcArc(body) ^ (badCrc ? 0x0101 : 0);
  return Buffer.from(`\n${h4(crc)}0${body.length.toString(16).toUpperCase().padStart(3, '0')}${body}\r`, 'latin1');
}

/** Reads a receiver's reply; throws when it is not one. */
export function decodeReply(raw: Buffer, keyHex?: string): PanelReply {
  const text = raw.toString('latin1');
  const m = /^\n([0-9A-F]{4})0[0-9A-F]{3}("(\*?)(ACK|NAK|DUH)"(\d{4})(?:R[0-9A-F]+)?L[0-9A-F]+(?:#([0-9A-F]+))?\[(.*))\r$/.exec(text);
  if (!m) throw new Error(`not a DC-09 reply: ${JSON.stringify(text)}`);
  const body = m[2]!;
  let rest = m[7]!;
  if (m[3] === '*') {
    if (!keyHex) throw new Error('encrypted reply without a key');
    const d = aes(keyHex, true);
    const plain = Buffer.concat([d.update(Buffer.from(rest, 'hex')), d.final()]).toString('latin1');
    rest = plain.slice(plain.indexOf('|') + 1);
  }
  const ts = /(_\d\d:\d\d:\d\d,\d\d-\d\d-\d{4})$/.exec(rest);
  return {
    token: m[4] as PanelReply['token'], encrypted: m[3] === '*', seq: m[5]!, account: m[6] ?? null,
    timestamp: ts ? ts[1]! : null, crcOk: parseInt(m[1]!, 16) === crcArc(body), raw: text,
  };
}

export class PanelSimulator {
  private seq = 0;
  private tcp: net.Socket | null = null;
  private udp: dgram.Socket | null = null;
  private tcpBuf = '';
  private waiting: ((reply: Buffer) => void) | null = null;

  constructor(private readonly opts: PanelOptions) {}

  /** The sequence number the next fresh message will carry. */
  get nextSeq(): number {
    return (this.seq % 9999) + 1;
  }

  /** Builds the next message without sending it (advances the sequence unless replaying). */
  message(o: SendOptions = {}): Buffer {
    const seq = o.replay && this.seq > 0 ? this.seq : this.nextSeq;
    this.seq = seq;
    const time = o.noTimestamp && !this.opts.key ? null : new Date(Date.now() + (o.clockSkewMs ?? 0));
    return encodeMessage({
      token: o.token ?? 'NULL', seq, line: this.opts.line ?? '1', account: this.opts.account,
      data: o.data ?? '', time, ...(this.opts.receiver ? { receiver: this.opts.receiver } : {}),
      ...(this.opts.key ? { key: this.opts.key } : {}),
    }, o.badCrc);
  }

  /** Sends one message and resolves with the receiver's reply. */
  async send(o: SendOptions = {}): Promise<PanelReply> {
    return this.exchange(this.message(o));
  }

  /** Sends raw bytes (for malformed input) and resolves with the reply. */
  async exchange(bytes: Buffer): Promise<PanelReply> {
    const reply = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error('no reply from the receiver'));
      }, this.opts.replyTimeoutMs ?? 5000);
      this.waiting = (b) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(b);
      };
    });
    if (this.opts.transport === 'tcp') (await this.tcpSocket()).write(bytes);
    else this.udpSocket().send(bytes, this.opts.port, this.opts.host ?? '127.0.0.1');
    return decodeReply(await reply, this.opts.key);
  }

  private deliver(b: Buffer): void {
    this.waiting?.(b);
  }

  private async tcpSocket(): Promise<net.Socket> {
    if (this.tcp) return this.tcp;
    const s = net.connect(this.opts.port, this.opts.host ?? '127.0.0.1');
    s.on('data', (chunk) => {
      this.tcpBuf += chunk.toString('latin1');
      for (let cr = this.tcpBuf.indexOf('\r'); cr >= 0; cr = this.tcpBuf.indexOf('\r')) {
        const lf = this.tcpBuf.indexOf('\n');
        const frame = this.tcpBuf.slice(Math.max(lf, 0), cr + 1);
        this.tcpBuf = this.tcpBuf.slice(cr + 1);
        this.deliver(Buffer.from(frame, 'latin1'));
      }
    });
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    this.tcp = s;
    return s;
  }

  private udpSocket(): dgram.Socket {
    if (this.udp) return this.udp;
    const s = dgram.createSocket('udp4');
    s.on('message', (msg) => this.deliver(msg));
    this.udp = s;
    return s;
  }

  async close(): Promise<void> {
    const t = this.tcp;
    const u = this.udp;
    this.tcp = null;
    this.udp = null;
    if (t) await new Promise<void>((resolve) => t.end(resolve));
    if (u) await new Promise<void>((resolve) => u.close(() => resolve()));
  }
}
