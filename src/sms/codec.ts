/**
 * SMS encoding for SMPP v3.4, pure functions: the GSM 03.38 default alphabet (with its
 * extension table) or UCS-2, splitting long texts with a concatenation UDH, addresses,
 * validity periods, and delivery receipts in both their TLV and text forms.
 */

// GSM 03.38 default alphabet: index = septet value.
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
// Extension table, reached with the escape septet 0x1B.
const GSM_EXT: Record<string, number> = { '\f': 0x0a, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2f, '[': 0x3c, '~': 0x3d, ']': 0x3e, '|': 0x40, '€': 0x65 };

const BASIC_INDEX = new Map<string, number>();
for (let i = 0; i < GSM_BASIC.length; i++) {
  const ch = GSM_BASIC[i] as string;
  if (i !== 0x1b) BASIC_INDEX.set(ch, i);
}
const EXT_BY_CODE = new Map<number, string>(Object.entries(GSM_EXT).map(([c, v]) => [v, c]));

export const DATA_CODING = { gsm7: 0, ia5: 1, latin1: 3, binary: 4, ucs2: 8 } as const;

/** Septets a character takes in GSM 7-bit: 1, 2 for the extension table, 0 when not encodable. */
function gsmWeight(ch: string): number {
  if (BASIC_INDEX.has(ch)) return 1;
  if (ch in GSM_EXT) return 2;
  return 0;
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (gsmWeight(ch) === 0) return false;
  return true;
}

/** Length in septets (extension characters count two). Throws when not GSM-encodable. */
export function gsm7Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const w = gsmWeight(ch);
    if (w === 0) throw new RangeError(`not in the GSM 7-bit alphabet: U+${ch.codePointAt(0)?.toString(16)}`);
    n += w;
  }
  return n;
}

/** One septet per octet, as SMPP carries data_coding 0 to most SMSCs. */
export function encodeGsm7Unpacked(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const b = BASIC_INDEX.get(ch);
    if (b !== undefined) out.push(b);
    else if (ch in GSM_EXT) out.push(0x1b, GSM_EXT[ch] as number);
    else throw new RangeError(`not in the GSM 7-bit alphabet: U+${ch.codePointAt(0)?.toString(16)}`);
  }
  return Buffer.from(out);
}

export function decodeGsm7Unpacked(buf: Buffer): string {
  let s = '';
  for (let i = 0; i < buf.length; i++) {
    const b = (buf[i] as number) & 0x7f;
    if (b === 0x1b) {
      const next = buf[i + 1];
      if (next === undefined) break;
      i++;
      s += EXT_BY_CODE.get(next & 0x7f) ?? ' ';
    } else {
      s += GSM_BASIC[b] ?? '?';
    }
  }
  return s;
}

function encodeUcs2(units: string): Buffer {
  // UTF-16 code units, big-endian (lone surrogates are kept as they are, as UCS-2 carries them)
  return Buffer.from(units, 'utf16le').swap16();
}

export function decodeUcs2(buf: Buffer): string {
  let s = '';
  for (let i = 0; i + 1 < buf.length; i += 2) s += String.fromCharCode(buf.readUInt16BE(i));
  return s;
}

export interface EncodedSms {
  dataCoding: 0 | 8;
  /** short_message bytes of each part, UDH included when split. */
  parts: Buffer[];
  esmClass: number;
  totalParts: number;
  reference: number;
}

/** Splits GSM text into chunks of at most `max` septets, never cutting an escape pair. */
function splitGsm(text: string, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  let n = 0;
  for (const ch of text) {
    const w = gsmWeight(ch);
    if (n + w > max) {
      out.push(cur);
      cur = '';
      n = 0;
    }
    cur += ch;
    n += w;
  }
  if (cur || out.length === 0) out.push(cur);
  return out;
}

/** Splits into chunks of at most `max` UTF-16 units, never cutting a surrogate pair. */
function splitUcs2(text: string, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const ch of text) {
    if (cur.length + ch.length > max) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur || out.length === 0) out.push(cur);
  return out;
}

/**
 * Chooses GSM 7-bit when every character is in GSM 03.38, else UCS-2, and splits what does
 * not fit one SMS (160 septets / 70 units) into parts of 153 septets / 67 units, each with
 * the UDH `05 00 03 ref total seq`.
 */
export function encodeSms(text: string, opts: { reference?: number } = {}): EncodedSms {
  const reference = (opts.reference ?? 0) & 0xff;
  const gsm = isGsm7(text);
  const chunks = gsm
    ? (gsm7Length(text) <= 160 ? [text] : splitGsm(text, 153))
    : (text.length <= 70 ? [text] : splitUcs2(text, 67));
  const encode = (s: string): Buffer => (gsm ? encodeGsm7Unpacked(s) : encodeUcs2(s));
  if (chunks.length === 1) {
    return { dataCoding: gsm ? 0 : 8, parts: [encode(chunks[0] as string)], esmClass: 0, totalParts: 1, reference };
  }
  if (chunks.length > 255) throw new RangeError('text too long for one concatenated SMS');
  const parts = chunks.map((c, i) => Buffer.concat([Buffer.from([0x05, 0x00, 0x03, reference, chunks.length, i + 1]), encode(c)]));
  return { dataCoding: gsm ? 0 : 8, parts, esmClass: 0x40, totalParts: parts.length, reference };
}

export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
}

/** Reads the concatenation element of a UDH; returns the UDH length too. */
export function parseUdh(bytes: Buffer): { length: number; concat: ConcatInfo | null } | null {
  const udhl = bytes[0];
  if (udhl === undefined || udhl + 1 > bytes.length) return null;
  let concat: ConcatInfo | null = null;
  let i = 1;
  while (i + 1 < udhl + 1) {
    const iei = bytes[i] as number;
    const len = bytes[i + 1] as number;
    const data = bytes.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) concat = { ref: data[0] as number, total: data[1] as number, seq: data[2] as number };
    if (iei === 0x08 && len === 4) concat = { ref: data.readUInt16BE(0), total: data[2] as number, seq: data[3] as number };
    i += 2 + len;
  }
  return { length: udhl + 1, concat };
}

/**
 * Text of an incoming message: strips the UDH (esm_class 0x40) and decodes GSM 7-bit (0),
 * IA5 (1), Latin-1 (3) or UCS-2 (8). Binary and unknown codings give `text: null`.
 */
export function decodeInbound(dataCoding: number, bytes: Buffer, esmClass: number): { text: string | null; concat: ConcatInfo | null } {
  let body = bytes;
  let concat: ConcatInfo | null = null;
  if (esmClass & 0x40) {
    const udh = parseUdh(bytes);
    if (!udh) return { text: null, concat: null };
    concat = udh.concat;
    body = bytes.subarray(udh.length);
  }
  const coding = dataCoding & 0xff;
  // GSM 03.38 data coding groups: 0x0X general, 0xFX message class; only the alphabet bits matter.
  if (coding === 0 || coding === 1) return { text: coding === 0 ? decodeGsm7Unpacked(body) : body.toString('latin1').replace(/[^\x20-\x7e\n\r]/g, '?'), concat };
  if (coding === 3) return { text: body.toString('latin1'), concat };
  if (coding === 8) return { text: decodeUcs2(body), concat };
  if ((coding & 0xf0) === 0xf0) return { text: coding & 0x04 ? null : decodeGsm7Unpacked(body), concat };
  if ((coding & 0xc0) === 0x00) {
    const alphabet = (coding >> 2) & 0x03;
    if (alphabet === 0) return { text: decodeGsm7Unpacked(body), concat };
    if (alphabet === 2) return { text: decodeUcs2(body), concat };
  }
  return { text: null, concat };
}

export interface Address {
  ton: number;
  npi: number;
  addr: string;
}

/** Destination: international E.164 without '+', TON 1, NPI 1. */
export function destAddress(e164: string): Address {
  const digits = e164.replace(/^\+/, '');
  if (!/^\d{6,15}$/.test(digits)) throw new RangeError(`not an E.164 number: ${e164}`);
  return { ton: 1, npi: 1, addr: digits };
}

/**
 * Source: an alphanumeric name (TON 5, NPI 0, at most 11 GSM characters — registered with the
 * operator), an international number (TON 1, NPI 1), or a short code (TON 3, NPI 0).
 */
export function sourceAddress(sender: string): Address {
  const s = sender.trim();
  if (/^\+?\d{10,15}$/.test(s)) return { ton: 1, npi: 1, addr: s.replace(/^\+/, '') };
  if (/^\d{3,8}$/.test(s)) return { ton: 3, npi: 0, addr: s };
  if (s.length === 0 || s.length > 11 || !isGsm7(s)) throw new RangeError('an alphanumeric sender has 1 to 11 GSM characters');
  return { ton: 5, npi: 0, addr: s };
}

/** SMPP relative time `YYMMDDhhmmss000R` for a remaining lifetime (at least one minute, rounded up). */
export function validityPeriod(remainingMs: number): string {
  let sec = Math.max(60, Math.ceil(remainingMs / 1000));
  const days = Math.floor(sec / 86_400);
  sec -= days * 86_400;
  const h = Math.floor(sec / 3600);
  sec -= h * 3600;
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  const years = Math.floor(days / 365);
  const rest = days - years * 365;
  const months = Math.floor(rest / 30);
  const d = rest - months * 30;
  return `${two(years)}${two(months)}${two(d)}${two(h)}${two(m)}${two(s)}000R`;
}

export type ReceiptState = 'delivered' | 'expired' | 'deleted' | 'undeliverable' | 'accepted' | 'unknown' | 'rejected' | 'enroute';

export interface ParsedReceipt {
  messageId: string;
  state: ReceiptState;
  err: string | null;
  submitDate: string | null;
  doneDate: string | null;
}

const STAT_TEXT: Record<string, ReceiptState> = {
  DELIVRD: 'delivered', DELIVERED: 'delivered', EXPIRED: 'expired', DELETED: 'deleted', UNDELIV: 'undeliverable',
  UNDELIVERABLE: 'undeliverable', ACCEPTD: 'accepted', ACCEPTED: 'accepted', UNKNOWN: 'unknown', REJECTD: 'rejected',
  REJECTED: 'rejected', ENROUTE: 'enroute',
};
// SMPP v3.4 section 5.2.28, message_state values.
const STATE_TLV: Record<number, ReceiptState> = {
  1: 'enroute', 2: 'delivered', 3: 'expired', 4: 'deleted', 5: 'undeliverable', 6: 'accepted', 7: 'unknown', 8: 'rejected',
};

export interface ReceiptInput {
  esmClass: number;
  shortMessage: Buffer;
  receiptedMessageId?: string | null;
  messageState?: number | null;
  networkErrorCode?: Buffer | null;
}

/**
 * A delivery receipt (esm_class bits 2–5 = 0001, or the receipt TLVs present), from the TLVs
 * receipted_message_id / message_state or the text `id:… stat:… err:…`. Null when the message
 * is not a receipt or names no id.
 */
export function parseReceipt(d: ReceiptInput): ParsedReceipt | null {
  const isReceipt = (d.esmClass & 0x3c) === 0x04 || (d.esmClass & 0x3c) === 0x08 || !!d.receiptedMessageId;
  if (!isReceipt) return null;
  const text = d.shortMessage.toString('latin1');
  const field = (name: string): string | null => {
    const m = new RegExp(`(?:^|\\s)${name}:(\\S*)`, 'i').exec(text);
    return m ? (m[1] as string) : null;
  };
  const messageId = (d.receiptedMessageId ?? '').replace(/\0+$/, '') || field('id');
  if (!messageId) return null;
  let state: ReceiptState | undefined = d.messageState != null ? STATE_TLV[d.messageState] : undefined;
  if (!state) {
    const stat = field('stat');
    state = stat ? STAT_TEXT[stat.toUpperCase()] ?? 'unknown' : 'unknown';
  }
  let err = field('err');
  if (d.networkErrorCode && d.networkErrorCode.length >= 3) err ??= String(d.networkErrorCode.readUInt16BE(1));
  return {
    messageId, state, err: err && /^0+$/.test(err) ? null : err,
    submitDate: /submit date:(\d{10,12})/i.exec(text)?.[1] ?? null, doneDate: /done date:(\d{10,12})/i.exec(text)?.[1] ?? null,
  };
}

/**
 * Message ids may come back in a receipt in another base than the submit_sm_resp gave them
 * (hexadecimal vs decimal, with or without leading zeros). A stored id is kept under its
 * normal form (trimmed, lower case, no leading zeros); a receipt id is looked up by its normal
 * form first, and only when that finds nothing by its value written in the other base.
 */
function normalForm(id: string): string {
  return id.trim().toLowerCase().replace(/^0+(?=.)/, '');
}

/** The key under which a stored (submit_sm_resp) id is found. */
export function messageIdKey(id: string): string {
  return normalForm(id);
}

/** Keys of stored ids a receipt's id may name: `exact` first, then `cross` (the same value in the other base). */
export function receiptLookupKeys(id: string): { exact: string[]; cross: string[] } {
  const raw = id.trim().toLowerCase();
  const exact = normalForm(raw);
  const cross: string[] = [];
  // a decimal receipt id may be the value of a hexadecimal stored id, and the other way round
  // (ids of up to 64 digits are read as numbers)
  if (/^\d{1,64}$/.test(raw)) cross.push(BigInt(raw).toString(16));
  if (/^[0-9a-f]{1,64}$/.test(raw)) {
    const decimal = BigInt('0x' + raw).toString(10);
    if (decimal.length <= 64) cross.push(decimal);
  }
  return { exact: [exact], cross: cross.filter((k) => k !== exact) };
}

/** True when a receipt id names the stored id, allowing another base and leading zeros. */
export function sameMessageId(stored: string, receipt: string): boolean {
  const key = messageIdKey(stored);
  const r = receiptLookupKeys(receipt);
  return r.exact.includes(key) || r.cross.includes(key);
}

/** An incoming deliver_sm, read from its raw bytes (SMPP v3.4 section 4.6.1). */
export interface DeliverSm {
  sequence: number;
  sourceTon: number;
  sourceAddr: string;
  destAddr: string;
  esmClass: number;
  dataCoding: number;
  /** short_message, or message_payload when short_message is empty. */
  shortMessage: Buffer;
  receiptedMessageId: string | null;
  messageState: number | null;
  networkErrorCode: Buffer | null;
  sar: ConcatInfo | null;
}

/** Parses a whole deliver_sm PDU (header included). Throws RangeError on malformed bytes. */
export function parseDeliverSm(pdu: Buffer): DeliverSm {
  if (pdu.length < 16) throw new RangeError('PDU shorter than its header');
  const len = pdu.readUInt32BE(0);
  if (len > pdu.length) throw new RangeError('PDU shorter than its command_length');
  let o = 16;
  const cstr = (max: number): string => {
    const end = pdu.indexOf(0, o);
    if (end < 0 || end >= len || end - o > max) throw new RangeError('bad C-octet string');
    const s = pdu.toString('latin1', o, end);
    o = end + 1;
    return s;
  };
  const u8 = (): number => {
    if (o >= len) throw new RangeError('PDU ends early');
    return pdu[o++] as number;
  };
  cstr(6); // service_type
  const sourceTon = u8();
  u8(); // source_addr_npi
  const sourceAddr = cstr(21);
  u8();
  u8();
  const destAddr = cstr(21);
  const esmClass = u8();
  u8(); // protocol_id
  u8(); // priority_flag
  cstr(17); // schedule_delivery_time
  cstr(17); // validity_period
  u8(); // registered_delivery
  u8(); // replace_if_present_flag
  const dataCoding = u8();
  u8(); // sm_default_msg_id
  const smLength = u8();
  if (o + smLength > len) throw new RangeError('short_message runs past the PDU');
  let shortMessage = Buffer.from(pdu.subarray(o, o + smLength));
  o += smLength;
  let receiptedMessageId: string | null = null;
  let messageState: number | null = null;
  let networkErrorCode: Buffer | null = null;
  const sarParts: Partial<ConcatInfo> = {};
  while (o + 4 <= len) {
    const tag = pdu.readUInt16BE(o);
    const l = pdu.readUInt16BE(o + 2);
    o += 4;
    if (o + l > len) throw new RangeError('TLV runs past the PDU');
    const v = pdu.subarray(o, o + l);
    o += l;
    switch (tag) {
      case 0x001e: receiptedMessageId = v.toString('latin1').replace(/\0+$/, ''); break;
      case 0x0427: messageState = v[0] ?? null; break;
      case 0x0423: networkErrorCode = Buffer.from(v); break;
      case 0x0424: if (shortMessage.length === 0) shortMessage = Buffer.from(v); break; // message_payload
      case 0x020c: sarParts.ref = v.length >= 2 ? v.readUInt16BE(0) : v[0] ?? 0; break;
      case 0x020e: sarParts.total = v[0] ?? 0; break;
      case 0x020f: sarParts.seq = v[0] ?? 0; break;
    }
  }
  const sar = sarParts.ref !== undefined && sarParts.total && sarParts.seq ? (sarParts as ConcatInfo) : null;
  return {
    sequence: pdu.readUInt32BE(12), sourceTon, sourceAddr: internationalise(sourceAddr, sourceTon), destAddr, esmClass, dataCoding,
    shortMessage, receiptedMessageId, messageState, networkErrorCode, sar,
  };
}

/** An international source address gets its '+', so the phone parser reads it unambiguously. */
function internationalise(addr: string, ton: number): string {
  return ton === 1 && /^\d+$/.test(addr) ? `+${addr}` : addr;
}
