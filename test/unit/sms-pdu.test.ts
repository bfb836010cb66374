import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  checkBind, encodeBindTransceiver, encodeDeliverSmResp, encodeEnquireLink, encodeGenericNack, encodeSubmitSm, encodeUnbindResp,
  MAX_PDU_LENGTH, nextSequence, PduFramingError, PduReader, submitSmLength, submitSmRespMessageId,
} from '../../src/sms/pdu.ts';
import type { SubmitFields } from '../../src/sms/pdu.ts';
import { SmppSession } from '../../src/sms/session.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A one-part UCS-2 "Hi" from ZHEDEL to 77011234567 with a delivery receipt and a validity. */
const EXAMPLE: SubmitFields = {
  source: { ton: 5, npi: 0, addr: 'ZHEDEL' },
  destination: { ton: 1, npi: 1, addr: '77011234567' },
  esmClass: 0, priority: 1, validityPeriod: '000000001000000R', registeredDelivery: 1, dataCoding: 8,
  shortMessage: Buffer.from([0x00, 0x48, 0x00, 0x69]),
};

// SMPP v3.4 section 4.4.1, field by field, written out by hand
const EXAMPLE_BYTES = hex(`
  00000046 00000004 00000000 00000007
  00
  05 00 5A484544454C 00
  01 01 3737303131323334353637 00
  00 00 01
  00
  30303030303030303130303030303052 00
  01 00 08 00 04 00480069
`);

describe('SMPP PDUs', () => {
  it('writes submit_sm with every mandatory field in order, in one buffer of its exact size', () => {
    expect(EXAMPLE_BYTES.length).toBe(0x46);
    expect(submitSmLength(EXAMPLE)).toBe(0x46);
    expect(encodeSubmitSm(7, EXAMPLE).toString('hex')).toBe(EXAMPLE_BYTES.toString('hex'));
    // no validity period, no priority: empty C-string and 0
    const plain = encodeSubmitSm(1, { ...EXAMPLE, validityPeriod: undefined, priority: undefined });
    expect(plain.toString('hex')).toBe(hex(`
      00000036 00000004 00000000 00000001 00
      05 00 5A484544454C 00
      01 01 3737303131323334353637 00
      00 00 00 00 00
      01 00 08 00 04 00480069
    `).toString('hex'));
  });

  it('writes bind_transceiver, deliver_sm_resp, generic_nack and the header-only PDUs', () => {
    expect(encodeBindTransceiver(1, { systemId: 'zhedel', password: 'secret', systemType: 'VMA' }).toString('hex')).toBe(hex(`
      00000026 00000009 00000000 00000001
      7A686564656C 00  736563726574 00  564D41 00  34 00 00 00
    `).toString('hex'));
    expect(encodeDeliverSmResp(0x10001, 0).toString('hex')).toBe('0000001180000005000000000001000100');
    expect(encodeDeliverSmResp(5, 8).toString('hex')).toBe('0000001180000005000000080000000500');
    expect(encodeGenericNack(9).toString('hex')).toBe('00000010800000000000000300000009');
    expect(encodeEnquireLink(0x7fffffff).toString('hex')).toBe('0000001000000015000000007fffffff');
    expect(encodeUnbindResp(3).toString('hex')).toBe('00000010800000060000000000000003');
  });

  it('reads the message_id of submit_sm_resp, absent or unterminated included', () => {
    expect(submitSmRespMessageId(hex('00000015 80000004 00000000 00000001 31663461 00'))).toBe('1f4a');
    expect(submitSmRespMessageId(hex('00000010 80000004 00000058 00000001'))).toBe('');
    expect(submitSmRespMessageId(hex('00000013 80000004 00000000 00000001 616263'))).toBe('abc');
  });

  it('refuses fields longer than SMPP allows rather than writing a malformed PDU', () => {
    expect(() => encodeSubmitSm(1, { ...EXAMPLE, source: { ton: 1, npi: 1, addr: '1'.repeat(21) } })).toThrow(/source_addr.*20/);
    expect(() => encodeSubmitSm(1, { ...EXAMPLE, destination: { ton: 1, npi: 1, addr: '1'.repeat(21) } })).toThrow(/destination_addr/);
    expect(() => encodeSubmitSm(1, { ...EXAMPLE, shortMessage: Buffer.alloc(255) })).toThrow(/short_message.*254/);
    expect(() => encodeSubmitSm(1, { ...EXAMPLE, validityPeriod: '0000000010000000R' })).toThrow(/validity_period/);
    expect(() => encodeSubmitSm(1, { ...EXAMPLE, dataCoding: 256 })).toThrow(/data_coding/);
    expect(() => encodeSubmitSm(1, { ...EXAMPLE, source: { ton: 5, npi: 0, addr: 'A\0B' } })).toThrow(/NUL/);
    expect(encodeSubmitSm(1, { ...EXAMPLE, source: { ton: 1, npi: 1, addr: '1'.repeat(20) }, shortMessage: Buffer.alloc(254) }).length)
      .toBe(16 + 1 + (2 + 21) + (2 + 12) + 3 + 1 + 17 + 5 + 254);
    expect(() => checkBind({ systemId: 'x'.repeat(16), password: '' })).toThrow(/system_id/);
    expect(() => checkBind({ systemId: 'zhedel', password: '123456789' })).toThrow(/password.*8/);
    expect(() => checkBind({ systemId: 'zhedel', password: 'secret', systemType: 'x'.repeat(13) })).toThrow(/system_type/);
    expect(() => encodeBindTransceiver(1, { systemId: 'zhedel', password: '123456789' })).toThrow(/password/);
    expect(() => new SmppSession({ url: 'smpp://127.0.0.1:1', systemId: 'zhedel', password: '123456789', logger: pino({ level: 'silent' }) }))
      .toThrow(/password/);
  });

  it('numbers requests 1 … 0x7FFFFFFF, then 1 again', () => {
    expect(nextSequence(0)).toBe(1);
    expect(nextSequence(1)).toBe(2);
    expect(nextSequence(0x7ffffffe)).toBe(0x7fffffff);
    expect(nextSequence(0x7fffffff)).toBe(1);
  });
});

describe('SMPP framing', () => {
  const stream = Buffer.concat([
    EXAMPLE_BYTES,
    encodeEnquireLink(2),
    hex('00000015 80000004 00000000 00000003 31663461 00'),
    encodeGenericNack(4),
  ]);
  const expected = [EXAMPLE_BYTES, encodeEnquireLink(2), hex('00000015 80000004 00000000 00000003 31663461 00'), encodeGenericNack(4)]
    .map((b) => b.toString('hex'));

  const readAll = (r: PduReader, chunks: Buffer[]): string[] => {
    const out: string[] = [];
    for (const c of chunks) {
      r.push(c);
      for (let p = r.next(); p; p = r.next()) out.push(Buffer.from(p).toString('hex'));
    }
    return out;
  };

  it('yields several PDUs from one chunk', () => {
    const r = new PduReader();
    expect(readAll(r, [stream])).toEqual(expected);
    expect(r.buffered).toBe(0);
  });

  it('yields the same PDUs whatever byte offset the stream is cut at', () => {
    for (let i = 1; i < stream.length; i++) {
      const r = new PduReader();
      expect(readAll(r, [stream.subarray(0, i), stream.subarray(i)]), `cut at ${i}`).toEqual(expected);
      expect(r.buffered).toBe(0);
    }
    for (let i = 1; i < stream.length; i += 3) {
      for (let j = i + 1; j < stream.length; j += 5) {
        expect(readAll(new PduReader(), [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]), `cut at ${i} and ${j}`).toEqual(expected);
      }
    }
  });

  it('yields them fed one byte at a time', () => {
    const r = new PduReader();
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(readAll(r, bytes)).toEqual(expected);
  });

  it('waits for the rest of a PDU without handing out part of it', () => {
    const r = new PduReader();
    r.push(EXAMPLE_BYTES.subarray(0, 20));
    expect(r.next()).toBeNull();
    expect(r.buffered).toBe(20);
    r.push(EXAMPLE_BYTES.subarray(20, 69));
    expect(r.next()).toBeNull();
    r.push(EXAMPLE_BYTES.subarray(69));
    expect(r.next()?.toString('hex')).toBe(EXAMPLE_BYTES.toString('hex'));
    expect(r.next()).toBeNull();
  });

  it('refuses a command_length below the header or above the maximum as soon as its four octets are in', () => {
    for (const len of [0, 15, MAX_PDU_LENGTH + 1, 0xffffffff]) {
      const r = new PduReader();
      const b = Buffer.alloc(4);
      b.writeUInt32BE(len >>> 0, 0);
      r.push(b.subarray(0, 2));
      expect(r.next()).toBeNull();
      r.push(b.subarray(2));
      expect(() => r.next(), `length ${len}`).toThrow(PduFramingError);
    }
    // after good PDUs too
    const r = new PduReader();
    r.push(Buffer.concat([encodeEnquireLink(1), hex('0000000c 00000015 00000000')]));
    expect(r.next()?.length).toBe(16);
    expect(() => r.next()).toThrow(/command_length 12/);
    const big = new PduReader();
    big.push(hex(`${(MAX_PDU_LENGTH).toString(16).padStart(8, '0')} 00000005 00000000 00000001`));
    expect(big.next()).toBeNull(); // the largest allowed length waits for its bytes
  });
});
