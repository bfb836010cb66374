/**
 * SIA DC-09 (ANSI/SIA DC-09-2013/2021) protocol layer: framing, CRC, AES encryption, acknowledgements,
 * and the two event payloads panels send in it: Ademco Contact ID (`ADM-CID`) and SIA DC-03 (`SIA-DCS`).
 * Pure functions only; sockets live elsewhere.
 *
 * Frame: <LF><crc><0LLL>"<id>"<seq>[R<rcvr>]L<line>[#<acct>][<data>]{[<x-data>]}[<timestamp>]<CR>
 * - crc and length (both 4 ASCII hex, length as "0" + 3 hex) cover the bytes from the opening quote of the
 *   id token up to, not including, the CR.
 * - crc is CRC-16/ARC: polynomial 0x8005 reflected, initial value 0, no final XOR.
 * - the receiver number (R) and the account (#) are optional; the line prefix (L) is required.
 * - timestamp _HH:MM:SS,MM-DD-YYYY is UTC; optional in clear frames, required in encrypted ones.
 * - an encrypted frame ("*" before the token) carries, after the clear "[", the hex of
 *   AES-CBC(key, IV = 0, <pad>|<data>]<x-data…><timestamp>), the pad making the plain text a multiple
 *   of 16 bytes and never containing "|", "[" or "]".
 */
import { createCipheriv, createDecipheriv, randomInt } from 'node:crypto';
import type { ALARM_KINDS, MONITORING_TYPES } from '../domain/types.ts';

export const MAX_FRAME_BYTES = 1024;
export const DC09_TOKENS = ['SIA-DCS', 'ADM-CID', 'NULL', 'ACK', 'NAK', 'DUH'] as const;
export type Dc09Token = (typeof DC09_TOKENS)[number];
export type Dc09ErrorKind = 'crc' | 'length' | 'format';

export interface Dc09Header {
  token: Dc09Token;
  encrypted: boolean;
  /** Four decimal digits as sent, "0000"–"9999". */
  seq: string;
  receiver: string | null;
  line: string;
  account: string | null;
}

export interface Dc09Frame extends Dc09Header {
  /** The contents of the first bracket pair (decrypted when the frame was encrypted). */
  data: string;
  /** Extended data fields, each without its brackets (e.g. "X030E0000"). */
  extended: string[];
  timestamp: Date | null;
}

export type ParseResult =
  | { ok: true; frame: Dc09Frame }
  | { ok: false; error: Dc09ErrorKind; reason: string; header?: Dc09Header };

export interface ParseOptions {
  /** Hex AES key of an account (32, 48 or 64 hex digits); needed only for encrypted frames. */
  keyFor?: (account: string) => string | undefined;
}

// ---------------------------------------------------------------- CRC

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-16/ARC of the bytes (ASCII for strings). */
export function crc16(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  let crc = 0;
  for (const b of bytes) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ b) & 0xff]!;
  return crc;
}

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

// ---------------------------------------------------------------- timestamp

/** `_HH:MM:SS,MM-DD-YYYY` in UTC. */
export function formatTimestamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `_${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())},`
    + `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${d.getUTCFullYear()}`;
}

const TS_RE = /^_(\d\d):(\d\d):(\d\d),(\d\d)-(\d\d)-(\d{4})$/;

export function parseTimestamp(s: string): Date | null {
  const m = TS_RE.exec(s);
  if (!m) return null;
  const [hh, mi, ss, mo, dd, yy] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const d = new Date(Date.UTC(yy, mo - 1, dd, hh, mi, ss));
  const back = d.getUTCFullYear() === yy && d.getUTCMonth() === mo - 1 && d.getUTCDate() === dd
    && d.getUTCHours() === hh && d.getUTCMinutes() === mi && d.getUTCSeconds() === ss;
  return back ? d : null;
}

/**
 * Whether a frame's timestamp is within `windowMs` of the receiver's clock, either way.
 * A clear frame may carry no timestamp: that passes (encrypted frames cannot parse without one).
 */
export function checkTimestamp(frameTs: Date | null, now: Date, windowMs = 20_000): boolean {
  if (frameTs === null) return true;
  return Math.abs(frameTs.getTime() - now.getTime()) <= windowMs;
}

// ---------------------------------------------------------------- encryption

const KEY_RE = /^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{64})$/;

export function isValidKey(keyHex: string): boolean {
  return KEY_RE.test(keyHex);
}

function cipherName(key: Buffer): string {
  return `aes-${key.length * 8}-cbc`;
}

function keyBytes(keyHex: string): Buffer {
  if (!isValidKey(keyHex)) throw new RangeError('DC-09 key must be 32, 48 or 64 hex digits');
  return Buffer.from(keyHex, 'hex');
}

const PAD_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Encrypts `<pad>|<content>` (content = `data]x-data…timestamp`) and returns upper-case hex. */
export function encryptPayload(content: string, keyHex: string): string {
  const key = keyBytes(keyHex);
  const body = `|${content}`;
  const padLen = 16 - (Buffer.byteLength(body, 'latin1') % 16);
  let pad = '';
  for (let i = 0; i < padLen; i++) pad += PAD_ALPHABET[randomInt(PAD_ALPHABET.length)];
  const c = createCipheriv(cipherName(key), key, Buffer.alloc(16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(pad + body, 'latin1')), c.final()]).toString('hex').toUpperCase();
}

/** Decrypts the hex and returns what follows the pad's "|", or null when it is not a DC-09 payload. */
export function decryptPayload(hex: string, keyHex: string): string | null {
  if (!/^(?:[0-9A-Fa-f]{32})+$/.test(hex) || !isValidKey(keyHex)) return null;
  const key = Buffer.from(keyHex, 'hex');
  const d = createDecipheriv(cipherName(key), key, Buffer.alloc(16));
  d.setAutoPadding(false);
  const plain = Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]).toString('latin1');
  const bar = plain.indexOf('|');
  if (bar < 0 || /[[\]]/.test(plain.slice(0, bar))) return null;
  return plain.slice(bar + 1);
}

// ---------------------------------------------------------------- parsing

const HEADER_RE = /^"(\*?)(SIA-DCS|ADM-CID|NULL|ACK|NAK|DUH)"(\d{4})(?:R([0-9A-Fa-f]{1,6}))?L([0-9A-Fa-f]{1,6})(?:#([0-9A-Fa-f]{3,16}))?\[/;
const REST_RE = /^([^\]]*)\]((?:\[[^\]]*\])*)(_\d\d:\d\d:\d\d,\d\d-\d\d-\d{4})?$/;

const fail = (error: Dc09ErrorKind, reason: string, header?: Dc09Header): ParseResult =>
  (header ? { ok: false, error, reason, header } : { ok: false, error, reason });

/** The account a frame's header names (upper case), without checking the rest; null when none shows. */
export function peekAccount(input: Uint8Array): string | null {
  const text = Buffer.from(input.subarray(9, Math.min(input.length, 80))).toString('latin1');
  return HEADER_RE.exec(text)?.[6]?.toUpperCase() ?? null;
}

/** Parses one frame (LF … CR). Never throws; garbage gives an error result. */
export function parseFrame(input: Uint8Array | string, opts: ParseOptions = {}): ParseResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : Buffer.from(input);
  if (bytes.length < 11 || bytes[0] !== 0x0a || bytes[bytes.length - 1] !== 0x0d) return fail('format', 'not framed by LF … CR');
  if (bytes.length > MAX_FRAME_BYTES) return fail('format', 'frame too long');
  const crcField = bytes.subarray(1, 5).toString('latin1');
  const lenField = bytes.subarray(5, 9).toString('latin1');
  const body = bytes.subarray(9, bytes.length - 1);
  if (!/^[0-9A-Fa-f]{4}$/.test(crcField)) return fail('format', 'bad CRC field');
  if (!/^0[0-9A-Fa-f]{3}$/.test(lenField)) return fail('format', 'bad length field');
  if (parseInt(lenField, 16) !== body.length) return fail('length', `length field ${lenField}, body ${body.length} bytes`);
  if (parseInt(crcField, 16) !== crc16(body)) return fail('crc', `CRC field ${crcField}, computed ${hex4(crc16(body))}`);
  const text = body.toString('latin1');
  const h = HEADER_RE.exec(text);
  if (!h) return fail('format', 'bad header');
  const header: Dc09Header = {
    token: h[2] as Dc09Token,
    encrypted: h[1] === '*',
    seq: h[3]!,
    receiver: h[4]?.toUpperCase() ?? null,
    line: h[5]!.toUpperCase(),
    account: h[6]?.toUpperCase() ?? null,
  };
  let rest = text.slice(h[0].length);
  if (header.encrypted) {
    if (header.token === 'NAK' || header.token === 'DUH') return fail('format', `${header.token} is never encrypted`, header);
    const keyHex = header.account ? opts.keyFor?.(header.account) : undefined;
    if (!keyHex) return fail('format', 'no key for this account', header);
    const plain = decryptPayload(rest, keyHex);
    if (plain === null) return fail('format', 'cannot decrypt', header);
    rest = plain;
  }
  const r = REST_RE.exec(rest);
  if (!r) return fail('format', 'bad data, extended data or timestamp', header);
  const timestamp = r[3] ? parseTimestamp(r[3]) : null;
  if (r[3] && !timestamp) return fail('format', 'bad timestamp', header);
  if (header.encrypted && !timestamp) return fail('format', 'encrypted frame without timestamp', header);
  const extended = r[2] ? r[2].slice(1, -1).split('][') : [];
  return { ok: true, frame: { ...header, data: r[1]!, extended, timestamp } };
}

// ---------------------------------------------------------------- building

export interface BuildInput {
  token: Dc09Token;
  seq: number | string;
  receiver?: string | null;
  line: string;
  account?: string | null;
  data?: string;
  extended?: string[];
  /** Timestamp to send; null sends none (clear frames only). */
  timestamp?: Date | null;
  /** Hex AES key: the frame is sent encrypted ("*" token). */
  key?: string;
}

function seqText(seq: number | string): string {
  const s = typeof seq === 'number' ? String(seq).padStart(4, '0') : seq;
  if (!/^\d{4}$/.test(s)) throw new RangeError('DC-09 sequence must be 0000–9999');
  return s;
}

/** Wraps a body (from the opening quote on) into LF crc 0LLL body CR. */
export function frameBody(body: string): Buffer {
  const len = Buffer.byteLength(body, 'latin1');
  if (len > 0xfff) throw new RangeError('DC-09 body too long');
  return Buffer.from(`\n${hex4(crc16(body))}0${len.toString(16).toUpperCase().padStart(3, '0')}${body}\r`, 'latin1');
}

export function buildFrame(input: BuildInput): Buffer {
  const head = `"${input.key ? '*' : ''}${input.token}"${seqText(input.seq)}`
    + `${input.receiver ? `R${input.receiver}` : ''}L${input.line}${input.account ? `#${input.account}` : ''}[`;
  const ts = input.timestamp === undefined ? (input.key ? new Date() : null) : input.timestamp;
  if (input.key && !ts) throw new RangeError('an encrypted DC-09 frame needs a timestamp');
  const content = `${input.data ?? ''}]${(input.extended ?? []).map((x) => `[${x}]`).join('')}${ts ? formatTimestamp(ts) : ''}`;
  return frameBody(head + (input.key ? encryptPayload(content, input.key) : content));
}

/**
 * Acknowledgement of a received frame, echoing its sequence, receiver, line and account.
 * An encrypted frame gets an encrypted ACK ("*ACK", pad and timestamp encrypted with the same key).
 */
export function ack(frame: Dc09Header, opts: { key?: string; now?: Date } = {}): Buffer {
  const base = { token: 'ACK' as const, seq: frame.seq, receiver: frame.receiver, line: frame.line, account: frame.account };
  if (!frame.encrypted) return buildFrame({ ...base, timestamp: null });
  if (!opts.key) throw new RangeError('an encrypted frame needs an encrypted ACK: key missing');
  return buildFrame({ ...base, key: opts.key, timestamp: opts.now ?? new Date() });
}

/** Negative acknowledgement (bad CRC, length or time): sequence 0000 and the receiver's own clock. */
export function nak(now: Date = new Date()): Buffer {
  return frameBody(`"NAK"0000R0L0A0[]${formatTimestamp(now)}`);
}

/** "Unable to handle": a well-formed frame the receiver does not accept (unknown account, token, key). */
export function duh(frame: Dc09Header): Buffer {
  return buildFrame({ token: 'DUH', seq: frame.seq, receiver: frame.receiver, line: frame.line, account: frame.account, timestamp: null });
}

// ---------------------------------------------------------------- TCP stream splitting

export type SplitItem = { kind: 'frame'; bytes: Buffer } | { kind: 'oversized'; bytes: number };

/**
 * Cuts a TCP byte stream into frames (LF … CR, starting at the last LF before the CR). Other bytes are
 * dropped; a frame that grows over
 * the limit without its CR is reported once as oversized and the rest of it, up to its CR, is dropped.
 */
export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(private readonly limit = MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): SplitItem[] {
    const out: SplitItem[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      if (this.discarding) {
        const tail = this.buf.indexOf(0x0d);
        if (tail < 0) return this.drop(out);
        this.discarding = false;
        this.buf = this.buf.subarray(tail + 1);
      }
      const end = this.buf.indexOf(0x0d);
      const lf = end === 0 ? -1 : this.buf.lastIndexOf(0x0a, end < 0 ? this.buf.length - 1 : end - 1);
      if (lf < 0) {
        if (end < 0) return this.drop(out);
        this.buf = this.buf.subarray(end + 1);
        continue;
      }
      this.buf = this.buf.subarray(lf);
      const cr = end < 0 ? -1 : end - lf;
      if (cr >= 0 && cr < this.limit) {
        out.push({ kind: 'frame', bytes: Buffer.from(this.buf.subarray(0, cr + 1)) });
        this.buf = this.buf.subarray(cr + 1);
        continue;
      }
      if (cr < 0 && this.buf.length <= this.limit) return out;
      out.push({ kind: 'oversized', bytes: cr < 0 ? this.buf.length : cr + 1 });
      if (cr < 0) {
        this.discarding = true;
        return this.drop(out);
      }
      this.buf = this.buf.subarray(cr + 1);
    }
  }

  private drop(out: SplitItem[]): SplitItem[] {
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buf.length;
  }
}

// ---------------------------------------------------------------- event payloads

export interface ContactIdEvent {
  format: 'cid';
  account: string | null;
  qualifier: 1 | 3 | 6;
  code: string;
  partition: string;
  /** Zone, or user number for open/close and other user events. */
  zone: string;
  raw: string;
}

export interface SiaEvent {
  format: 'sia';
  account: string | null;
  code: string;
  address: string | null;
  area: string | null;
  user: string | null;
  raw: string;
}

export type PanelEvent = ContactIdEvent | SiaEvent;

const CID_RE = /^(?:#?([0-9A-Fa-f]{3,16})\|)?([136])(\d{3}) ([0-9A-Fa-f]{2}) ([0-9A-Fa-f]{3})$/;

/** Contact ID in DC-09: `#acct|QEEE GG ZZZ` (some panels leave out the "#" or the whole account). */
export function parseContactId(data: string): ContactIdEvent | null {
  const m = CID_RE.exec(data);
  if (!m) return null;
  return {
    format: 'cid', account: m[1]?.toUpperCase() ?? null, qualifier: Number(m[2]) as 1 | 3 | 6,
    code: m[3]!, partition: m[4]!.toUpperCase(), zone: m[5]!.toUpperCase(), raw: data,
  };
}

const SIA_BLOCK_RE = /^(?:#?([0-9A-Fa-f]{3,16})\|)?([NO])(.*)$/;
const SIA_MODIFIER_RE = /^(?:(ri|id|pi|ai)(\d{1,6})|ti\d\d:\d\d)/;
const SIA_EVENT_RE = /^([A-Z]{2})([0-9A-Za-z]{0,8})(?:\^.*)?$/;

/** SIA DC-03 in DC-09: `#acct|N[ri<area>][id<user>][ti<hh:mm>]/<CC><addr>/…`; null when nothing parses. */
export function parseSia(data: string): SiaEvent[] | null {
  const m = SIA_BLOCK_RE.exec(data);
  if (!m) return null;
  const account = m[1]?.toUpperCase() ?? null;
  let area: string | null = null;
  let user: string | null = null;
  const events: SiaEvent[] = [];
  for (const segment of m[3]!.split('/')) {
    let s = segment;
    for (let mod = SIA_MODIFIER_RE.exec(s); mod && mod[0].length > 0; mod = SIA_MODIFIER_RE.exec(s)) {
      if (mod[1] === 'ri') area = mod[2]!;
      if (mod[1] === 'id') user = mod[2]!;
      s = s.slice(mod[0].length);
    }
    if (s === '') continue;
    const e = SIA_EVENT_RE.exec(s);
    if (!e) return null;
    events.push({ format: 'sia', account, code: e[1]!, address: e[2] || null, area, user, raw: data });
  }
  return events.length ? events : null;
}

// ---------------------------------------------------------------- mapping to the product's events

export type MonitoringType = (typeof MONITORING_TYPES)[number];
export type AlarmKind = (typeof ALARM_KINDS)[number];

export interface MappedEvent {
  type: MonitoringType;
  kind: AlarmKind | null;
  zone: string | null;
  partition: string | null;
  user: string | null;
  /** The panel's own code: "E130" / "R130" for Contact ID (qualifier + event), "BA" for SIA. */
  code: string;
  raw: string;
}

/** What a code means: for Contact ID `new` applies to qualifiers 1 and 6, `restore` to qualifier 3. */
export interface CodeMeaning {
  codes: string;
  description: string;
  new: MonitoringType;
  restore: MonitoringType;
  kind: AlarmKind | null;
  /** Zone field holds a user number (openings and closings). */
  userEvent?: boolean;
}

export const CONTACT_ID_TABLE: ReadonlyArray<CodeMeaning & { from: number; to: number }> = [
  { from: 110, to: 118, codes: '110–118', description: 'Fire alarm', new: 'alarm', restore: 'restore', kind: 'fire' },
  { from: 120, to: 123, codes: '120–123', description: 'Panic (121 duress, 122 silent, 123 audible)', new: 'alarm', restore: 'restore', kind: 'panic' },
  { from: 137, to: 137, codes: '137', description: 'Tamper', new: 'alarm', restore: 'restore', kind: 'tamper' },
  { from: 130, to: 139, codes: '130–139', description: 'Burglary', new: 'alarm', restore: 'restore', kind: 'burglary' },
  { from: 144, to: 145, codes: '144–145', description: 'Sensor or module tamper', new: 'alarm', restore: 'restore', kind: 'tamper' },
  { from: 154, to: 154, codes: '154', description: 'Water leakage', new: 'alarm', restore: 'restore', kind: 'flood' },
  // a trouble's restore is a trouble record too: it must never end an alarm ("restore" does)
  { from: 300, to: 399, codes: '300–399', description: 'System trouble (and its restore)', new: 'trouble', restore: 'trouble', kind: null },
  { from: 400, to: 409, codes: '400–409', description: 'Open (1) = disarm / close (3) = arm', new: 'disarm', restore: 'arm', kind: null, userEvent: true },
  { from: 441, to: 441, codes: '441', description: 'Armed stay: open (1) = disarm / close (3) = arm', new: 'disarm', restore: 'arm', kind: null, userEvent: true },
  { from: 601, to: 602, codes: '601–602', description: 'Manual / periodic test', new: 'test', restore: 'test', kind: null },
];

export interface SiaMeaning {
  description: string;
  type: MonitoringType;
  kind: AlarmKind | null;
  /** The address is a user number (openings and closings). */
  userEvent?: boolean;
}

/** An alarm code and its restore code. */
function siaPair(alarm: string, restore: string, what: string, kind: AlarmKind): Record<string, SiaMeaning> {
  return {
    [alarm]: { description: `${what} alarm`, type: 'alarm', kind },
    [restore]: { description: `${what} restore`, type: 'restore', kind },
  };
}

export const SIA_TABLE: Readonly<Record<string, SiaMeaning>> = {
  ...siaPair('BA', 'BR', 'Burglary', 'burglary'),
  ...siaPair('FA', 'FR', 'Fire', 'fire'),
  ...siaPair('PA', 'PR', 'Panic', 'panic'),
  ...siaPair('HA', 'HR', 'Holdup (duress)', 'panic'),
  ...siaPair('TA', 'TR', 'Tamper', 'tamper'),
  ...siaPair('WA', 'WR', 'Water', 'flood'),
  OP: { description: 'Opening (disarm)', type: 'disarm', kind: null, userEvent: true },
  CL: { description: 'Closing (arm)', type: 'arm', kind: null, userEvent: true },
  YS: { description: 'Communications trouble', type: 'trouble', kind: null },
  YR: { description: 'System battery restore', type: 'trouble', kind: null },
  // one of the panel's own paths failed, said over another: the link to us is alive (our
  // supervision tells "no link" when the panel stops reaching us)
  YC: { description: 'Communications fail (one path)', type: 'trouble', kind: null },
  YK: { description: 'Communications restoral', type: 'trouble', kind: null },
  RP: { description: 'Automatic test', type: 'test', kind: null },
  RX: { description: 'Manual test', type: 'test', kind: null },
};

function mapContactId(e: ContactIdEvent): MappedEvent {
  const n = Number(e.code);
  const row = CONTACT_ID_TABLE.find((r) => n >= r.from && n <= r.to);
  const code = `${e.qualifier === 3 ? 'R' : 'E'}${e.code}`;
  const partition = e.partition === '00' ? null : e.partition;
  if (!row) return { type: 'trouble', kind: null, zone: e.zone, partition, user: null, code, raw: e.raw };
  const type = e.qualifier === 3 ? row.restore : row.new;
  return {
    type, kind: row.kind, zone: row.userEvent ? null : e.zone, partition,
    user: row.userEvent ? e.zone : null, code, raw: e.raw,
  };
}

function mapSia(e: SiaEvent): MappedEvent {
  const row = SIA_TABLE[e.code];
  if (!row) return { type: 'trouble', kind: null, zone: e.address, partition: e.area, user: e.user, code: e.code, raw: e.raw };
  return {
    type: row.type, kind: row.kind, zone: row.userEvent ? null : e.address, partition: e.area,
    user: row.userEvent ? (e.address ?? e.user) : e.user, code: e.code, raw: e.raw,
  };
}

/** The product's event for a panel event; a code not in the tables becomes 'trouble' with its raw code. */
export function mapEvent(e: PanelEvent): MappedEvent {
  return e.format === 'cid' ? mapContactId(e) : mapSia(e);
}

/**
 * Events of a parsed frame: Contact ID gives one, SIA DC-03 one per event code, NULL (link test) and
 * acknowledgements none. Data that does not parse under its token is kept as one 'trouble' event.
 */
export function frameEvents(frame: Dc09Frame): MappedEvent[] {
  if (frame.token === 'ADM-CID') {
    const e = parseContactId(frame.data);
    return [e ? mapEvent(e) : unparsed(frame)];
  }
  if (frame.token === 'SIA-DCS') {
    const es = parseSia(frame.data);
    return es ? es.map(mapEvent) : [unparsed(frame)];
  }
  return [];
}

function unparsed(frame: Dc09Frame): MappedEvent {
  return { type: 'trouble', kind: null, zone: null, partition: null, user: null, code: frame.token, raw: frame.data };
}
