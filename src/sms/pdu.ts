import type { Address } from './codec.ts';

/**
 * The SMPP v3.4 PDUs the session exchanges with the SMSC, read and written by hand: a reader
 * that cuts the byte stream into whole PDUs, and encoders that write each PDU into one buffer
 * of its exact size. Pure: no sockets, no timers.
 *
 * Every PDU starts with a 16-octet header (section 3.2): command_length (the whole PDU, header
 * included), command_id, command_status, sequence_number, all 32-bit big-endian.
 */

export const CMD = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_transmitter: 0x00000002,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  bind_transceiver: 0x00000009,
  bind_transceiver_resp: 0x80000009,
  outbind: 0x0000000b,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
  alert_notification: 0x00000102,
  data_sm: 0x00000103,
} as const;

export const HEADER_LENGTH = 16;
/** Far above any PDU an SMSC sends us (a deliver_sm with every TLV is a few hundred octets). */
export const MAX_PDU_LENGTH = 65_536;
export const ESME_RINVCMDLEN = 0x02;
export const ESME_RINVCMDID = 0x03;
export const MAX_SEQUENCE = 0x7fffffff;
/** interface_version of bind_transceiver: SMPP v3.4. */
export const INTERFACE_VERSION = 0x34;

/** The byte stream broke the framing rules: the link cannot be trusted any further. */
export class PduFramingError extends Error {}

/** The next sequence_number after `prev`: 1 … 0x7FFFFFFF, then 1 again (section 3.2). */
export function nextSequence(prev: number): number {
  return prev >= MAX_SEQUENCE || prev < 1 ? 1 : prev + 1;
}

export const commandId = (pdu: Buffer): number => pdu.readUInt32BE(4);
export const commandStatus = (pdu: Buffer): number => pdu.readUInt32BE(8);
export const sequenceNumber = (pdu: Buffer): number => pdu.readUInt32BE(12);

const EMPTY = Buffer.alloc(0);

/**
 * Cuts socket chunks into whole PDUs. `push` a chunk, then take `next()` until it returns
 * null. A PDU split across chunks is assembled in a buffer of its announced length; several
 * PDUs in one chunk come out as views of that chunk (valid until the caller lets them go).
 * A command_length below the header or above MAX_PDU_LENGTH throws PduFramingError: nothing
 * of that size is ever allocated, and the reader must then be dropped with its link.
 */
export class PduReader {
  private buf: Buffer = EMPTY;
  private off = 0;
  /** A PDU longer than what has arrived of it: its bytes so far. */
  private part: Buffer | null = null;
  private partFill = 0;
  /** A PDU completed by the last chunk, handed out by the next call to `next`. */
  private ready: Buffer | null = null;

  constructor(private readonly maxLength = MAX_PDU_LENGTH) {}

  push(chunk: Buffer): void {
    if (this.part) {
      const n = Math.min(chunk.length, this.part.length - this.partFill);
      chunk.copy(this.part, this.partFill, 0, n);
      this.partFill += n;
      if (this.partFill < this.part.length) return;
      this.ready = this.part;
      this.part = null;
      this.buf = n < chunk.length ? chunk.subarray(n) : EMPTY;
      this.off = 0;
    } else if (this.off < this.buf.length) {
      // fewer than four octets left over: not even the length is known yet
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
      this.off = 0;
    } else {
      this.buf = chunk;
      this.off = 0;
    }
  }

  next(): Buffer | null {
    const r = this.ready;
    if (r) {
      this.ready = null;
      return r;
    }
    const avail = this.buf.length - this.off;
    if (avail < 4) return null;
    const len = this.buf.readUInt32BE(this.off);
    if (len < HEADER_LENGTH || len > this.maxLength) {
      throw new PduFramingError(`command_length ${len} outside ${HEADER_LENGTH}…${this.maxLength}`);
    }
    if (avail >= len) {
      const pdu = this.buf.subarray(this.off, this.off + len);
      this.off += len;
      if (this.off === this.buf.length) {
        this.buf = EMPTY;
        this.off = 0;
      }
      return pdu;
    }
    const part = Buffer.allocUnsafe(len);
    this.buf.copy(part, 0, this.off);
    this.part = part;
    this.partFill = avail;
    this.buf = EMPTY;
    this.off = 0;
    return null;
  }

  /** Octets received and not yet handed out as a PDU. */
  get buffered(): number {
    return (this.part ? this.partFill : 0) + (this.ready ? this.ready.length : 0) + this.buf.length - this.off;
  }
}

// ---------------------------------------------------------------- writing

function header(buf: Buffer, length: number, id: number, status: number, seq: number): void {
  buf.writeUInt32BE(length, 0);
  buf.writeUInt32BE(id >>> 0, 4);
  buf.writeUInt32BE(status >>> 0, 8);
  buf.writeUInt32BE(seq, 12);
}

/** A PDU with no body: enquire_link(_resp), unbind(_resp), generic_nack, an error response. */
export function encodeHeaderOnly(id: number, seq: number, status = 0): Buffer {
  const b = Buffer.allocUnsafe(HEADER_LENGTH);
  header(b, HEADER_LENGTH, id, status, seq);
  return b;
}

export const encodeEnquireLink = (seq: number): Buffer => encodeHeaderOnly(CMD.enquire_link, seq);
export const encodeEnquireLinkResp = (seq: number): Buffer => encodeHeaderOnly(CMD.enquire_link_resp, seq);
export const encodeUnbind = (seq: number): Buffer => encodeHeaderOnly(CMD.unbind, seq);
export const encodeUnbindResp = (seq: number): Buffer => encodeHeaderOnly(CMD.unbind_resp, seq);
export const encodeGenericNack = (seq: number, status = ESME_RINVCMDID): Buffer => encodeHeaderOnly(CMD.generic_nack, seq, status);

/**
 * Octets a C-Octet String takes (its NUL included) when written as Latin-1, after checking
 * it against the field's maximum (section 4, "max" column, NUL excluded here).
 */
function cstrSize(field: string, s: string, max: number): number {
  if (s.length > max) throw new RangeError(`${field} is ${s.length} characters; SMPP allows at most ${max}`);
  if (s.includes('\0')) throw new RangeError(`${field} contains a NUL character`);
  return s.length + 1;
}

function octet(field: string, v: number): number {
  if ((v & 0xff) !== v) throw new RangeError(`${field} ${v} is not an octet`);
  return v;
}

/** Section 4.6.2: deliver_sm_resp; its message_id is unused and NULL. */
export function encodeDeliverSmResp(seq: number, status: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_LENGTH + 1);
  header(b, HEADER_LENGTH + 1, CMD.deliver_sm_resp, status, seq);
  b[HEADER_LENGTH] = 0;
  return b;
}

export interface BindFields {
  systemId: string;
  password: string;
  systemType?: string;
}

/** Checks what bind_transceiver carries against its limits (section 4.1.1); throws RangeError. */
export function checkBind(f: BindFields): void {
  cstrSize('system_id', f.systemId, 15);
  cstrSize('password', f.password, 8);
  cstrSize('system_type', f.systemType ?? '', 12);
}

/**
 * Section 4.1.5: bind_transceiver with system_id, password, system_type, interface_version
 * 0x34, addr_ton 0, addr_npi 0 and an empty address_range.
 */
export function encodeBindTransceiver(seq: number, f: BindFields): Buffer {
  const systemType = f.systemType ?? '';
  const len = HEADER_LENGTH + cstrSize('system_id', f.systemId, 15) + cstrSize('password', f.password, 8) +
    cstrSize('system_type', systemType, 12) + 1 + 1 + 1 + 1;
  const b = Buffer.allocUnsafe(len);
  header(b, len, CMD.bind_transceiver, 0, seq);
  let o = HEADER_LENGTH;
  o += b.write(f.systemId, o, 'latin1');
  b[o++] = 0;
  o += b.write(f.password, o, 'latin1');
  b[o++] = 0;
  o += b.write(systemType, o, 'latin1');
  b[o++] = 0;
  b[o++] = INTERFACE_VERSION;
  b[o++] = 0; // addr_ton
  b[o++] = 0; // addr_npi
  b[o++] = 0; // address_range ''
  return b;
}

export interface SubmitFields {
  serviceType?: string;
  source: Address;
  destination: Address;
  esmClass: number;
  priority?: number;
  validityPeriod?: string;
  registeredDelivery: number;
  dataCoding: number;
  shortMessage: Buffer;
}

export const MAX_SHORT_MESSAGE = 254;

/** The exact length of a submit_sm for these fields; throws RangeError for a field out of bounds. */
export function submitSmLength(f: SubmitFields): number {
  const sm = f.shortMessage.length;
  if (sm > MAX_SHORT_MESSAGE) throw new RangeError(`short_message is ${sm} octets; SMPP allows at most ${MAX_SHORT_MESSAGE}`);
  return HEADER_LENGTH +
    cstrSize('service_type', f.serviceType ?? '', 5) +
    2 + cstrSize('source_addr', f.source.addr, 20) +
    2 + cstrSize('destination_addr', f.destination.addr, 20) +
    3 + // esm_class, protocol_id, priority_flag
    1 + // schedule_delivery_time ''
    cstrSize('validity_period', f.validityPeriod ?? '', 16) +
    5 + // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length
    sm;
}

/**
 * Section 4.4.1: submit_sm with every mandatory field, in order — service_type, source
 * TON/NPI/address, destination TON/NPI/address, esm_class, protocol_id 0, priority_flag,
 * schedule_delivery_time '' (immediate), validity_period ('' for the SMSC's default),
 * registered_delivery, replace_if_present_flag 0, data_coding, sm_default_msg_id 0, sm_length,
 * short_message — and no TLV. Written into `buf` at `at` (`length` from submitSmLength);
 * returns the offset after it.
 */
export function writeSubmitSm(buf: Buffer, at: number, length: number, seq: number, f: SubmitFields): number {
  buf.writeUInt32BE(length, at);
  buf.writeUInt32BE(CMD.submit_sm, at + 4);
  buf.writeUInt32BE(0, at + 8);
  buf.writeUInt32BE(seq, at + 12);
  let o = at + HEADER_LENGTH;
  const st = f.serviceType;
  if (st) o += buf.write(st, o, 'latin1');
  buf[o++] = 0;
  buf[o++] = octet('source_addr_ton', f.source.ton);
  buf[o++] = octet('source_addr_npi', f.source.npi);
  o += buf.write(f.source.addr, o, 'latin1');
  buf[o++] = 0;
  buf[o++] = octet('dest_addr_ton', f.destination.ton);
  buf[o++] = octet('dest_addr_npi', f.destination.npi);
  o += buf.write(f.destination.addr, o, 'latin1');
  buf[o++] = 0;
  buf[o++] = octet('esm_class', f.esmClass);
  buf[o++] = 0; // protocol_id
  buf[o++] = octet('priority_flag', f.priority ?? 0);
  buf[o++] = 0; // schedule_delivery_time ''
  const vp = f.validityPeriod;
  if (vp) o += buf.write(vp, o, 'latin1');
  buf[o++] = 0;
  buf[o++] = octet('registered_delivery', f.registeredDelivery);
  buf[o++] = 0; // replace_if_present_flag
  buf[o++] = octet('data_coding', f.dataCoding);
  buf[o++] = 0; // sm_default_msg_id
  const sm = f.shortMessage;
  buf[o++] = sm.length;
  o += sm.copy(buf, o);
  if (o - at !== length) throw new RangeError(`submit_sm written as ${o - at} octets, ${length} expected`);
  return o;
}

/** One submit_sm in a buffer of its exact size. */
export function encodeSubmitSm(seq: number, f: SubmitFields): Buffer {
  const len = submitSmLength(f);
  const b = Buffer.allocUnsafe(len);
  writeSubmitSm(b, 0, len, seq, f);
  return b;
}

// ---------------------------------------------------------------- reading responses

/**
 * The message_id of a submit_sm_resp (section 4.4.2): a C-Octet String, absent when the
 * status is an error; '' when the body is missing or unterminated.
 */
export function submitSmRespMessageId(pdu: Buffer): string {
  const len = Math.min(pdu.readUInt32BE(0), pdu.length);
  if (len <= HEADER_LENGTH) return '';
  let end = pdu.indexOf(0, HEADER_LENGTH);
  if (end < 0 || end > len) end = len;
  return pdu.toString('latin1', HEADER_LENGTH, end);
}
