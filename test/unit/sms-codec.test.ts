import { describe, expect, it } from 'vitest';
import {
  decodeGsm7Unpacked, decodeInbound, destAddress, encodeGsm7Unpacked, encodeSms, gsm7Length, isGsm7, messageIdKey,
  parseDeliverSm, parseReceipt, receiptLookupKeys, sameMessageId, sourceAddress, validityPeriod,
} from '../../src/sms/codec.ts';
import { ConcatAssembler } from '../../src/sms/concat.ts';

describe('GSM 03.38', () => {
  it.each([
    ['Hello', true, 5],
    ['{}[]~^|€\\', true, 18],
    ['Price 5€', true, 9],
    ['@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà', true, 42],
    ['Привет', false, null],
    ['қазақ', false, null],
    ['emoji 😀', false, null],
    ['`backtick', false, null],
  ])('%j: GSM %s, %s septets', (text, gsm, len) => {
    expect(isGsm7(text)).toBe(gsm);
    if (len !== null) expect(gsm7Length(text)).toBe(len);
    else expect(() => gsm7Length(text)).toThrow(RangeError);
  });

  it('round-trips with the escape for extension characters', () => {
    const text = 'A{b}[c]~^|€\\ @£';
    const bytes = encodeGsm7Unpacked(text);
    expect([...bytes.subarray(1, 3)]).toEqual([0x1b, 0x28]);
    expect(decodeGsm7Unpacked(bytes)).toBe(text);
  });
});

describe('encodeSms: coding and splitting', () => {
  const gsm = (n: number): string => 'a'.repeat(n);
  const cyr = (n: number): string => 'Ж'.repeat(n);
  it.each([
    ['160 GSM septets fit one SMS', gsm(160), 0, [160]],
    ['161 GSM septets take two parts', gsm(161), 0, [153, 8]],
    ['80 braces are 160 septets', '{'.repeat(80), 0, [160]],
    ['81 braces split without cutting an escape', '{'.repeat(81), 0, [152, 10]],
    ['70 UCS-2 units fit one SMS', cyr(70), 8, [140]],
    ['71 UCS-2 units take two parts', cyr(71), 8, [134, 8]],
  ])('%s', (_name, text, dc, sizes) => {
    const e = encodeSms(text, { reference: 5 });
    expect(e.dataCoding).toBe(dc);
    const bodies = e.parts.map((p) => (e.totalParts > 1 ? p.subarray(6) : p));
    expect(bodies.map((b) => b.length)).toEqual(sizes);
    expect(e.esmClass).toBe(e.totalParts > 1 ? 0x40 : 0);
  });

  it('a 200-character Kazakh text is three UCS-2 parts of 67, 67 and 66 with numbered UDH', () => {
    const text = 'Құрметті клиент! Нысаныңыз күзетке қойылды. ӘҒҚҢӨҰҮҺІ әғқңөұүһі. '.repeat(4).slice(0, 200);
    const e = encodeSms(text, { reference: 42 });
    expect(e.dataCoding).toBe(8);
    expect(e.parts.map((p) => [...p.subarray(0, 6)])).toEqual([1, 2, 3].map((i) => [5, 0, 3, 42, 3, i]));
    expect(e.parts.map((p) => (p.length - 6) / 2)).toEqual([67, 67, 66]);
    expect(e.parts.map((p) => decodeInbound(8, p, 0x40).text).join('')).toBe(text);
  });

  it('never splits a surrogate pair', () => {
    const text = 'Ж'.repeat(66) + '😀' + 'Ж'.repeat(10);
    const e = encodeSms(text);
    const first = decodeInbound(8, e.parts[0] as Buffer, 0x40).text as string;
    expect(first.endsWith('Ж')).toBe(true);
    expect(first.length).toBe(66);
    expect(e.parts.map((p) => decodeInbound(8, p, 0x40).text).join('')).toBe(text);
  });

  it('Kazakh letters are UCS-2', () => {
    for (const ch of 'әғқңөұүһі') expect(encodeSms(`a${ch}`).dataCoding).toBe(8);
  });
});

describe('addresses and validity', () => {
  it('destination is international without +', () => {
    expect(destAddress('+77011234567')).toEqual({ ton: 1, npi: 1, addr: '77011234567' });
    expect(() => destAddress('hello')).toThrow();
  });
  it.each([
    ['ZHEDEL', { ton: 5, npi: 0, addr: 'ZHEDEL' }],
    ['+77010000000', { ton: 1, npi: 1, addr: '77010000000' }],
    ['7575', { ton: 3, npi: 0, addr: '7575' }],
  ])('sender %s', (s, a) => {
    expect(sourceAddress(s)).toEqual(a);
  });
  it('refuses senders an operator would refuse', () => {
    expect(() => sourceAddress('ZHEDEL-ONLINE-KZ')).toThrow();
    expect(() => sourceAddress('ЖЕДЕЛ')).toThrow();
  });
  it.each([
    [5 * 60_000, '000000000500000R'],
    [299_001, '000000000500000R'],
    [1_000, '000000000100000R'],
    [3 * 3600_000 + 61_000, '000000030101000R'],
    [2 * 86_400_000, '000002000000000R'],
  ])('relative validity for %d ms', (ms, vp) => {
    expect(validityPeriod(ms)).toBe(vp);
  });
});

describe('delivery receipts', () => {
  const text = (s: string): Buffer => Buffer.from(s, 'latin1');
  it('reads the text form', () => {
    expect(parseReceipt({ esmClass: 0x04, shortMessage: text('id:0000001A2B sub:001 dlvrd:001 submit date:2611242210 done date:2611242211 stat:DELIVRD err:000 text:') }))
      .toEqual({ messageId: '0000001A2B', state: 'delivered', err: null, submitDate: '2611242210', doneDate: '2611242211' });
    expect(parseReceipt({ esmClass: 0x04, shortMessage: text('ID:77 STAT:undeliv ERR:012') })).toMatchObject({ messageId: '77', state: 'undeliverable', err: '012' });
  });
  it('prefers the TLVs', () => {
    expect(parseReceipt({ esmClass: 0x04, shortMessage: Buffer.alloc(0), receiptedMessageId: 'abc', messageState: 3 })).toMatchObject({ messageId: 'abc', state: 'expired' });
  });
  it('is not a receipt otherwise', () => {
    expect(parseReceipt({ esmClass: 0, shortMessage: text('id:1 stat:DELIVRD') })).toBeNull();
  });
  it.each([
    ['1a2b', '6699', true],
    ['1a2b', '0000006699', true],
    ['1A2B', '1a2b', true],
    ['0001a2b', '1a2b', true],
    ['6699', '1a2b', true],
    ['1a2b', '1a2c', false],
    ['12345678901234567890', '12345678901234567890', true],
    ['ff', '255', true],
    ['255', 'ff', true],
    ['0', '000', true],
    ['ff', '256', false],
  ])('%s ~ %s: %s', (stored, receipt, same) => {
    expect(sameMessageId(stored, receipt)).toBe(same);
  });
  it('exact ids win over a value read in another base', () => {
    // "10" read as hexadecimal is 16; a receipt for "16" must find "16", not "10"
    expect(receiptLookupKeys('16').exact).toEqual([messageIdKey('16')]);
    // then the stored ids whose value it is in the other base: 0x10 = 16, and 0x16 = 22
    expect(receiptLookupKeys('16').cross).toEqual(['10', '22']);
    expect(receiptLookupKeys(' 00FF ')).toEqual({ exact: ['ff'], cross: ['255'] });
  });
});

describe('incoming messages', () => {
  it('decodes GSM, Latin-1, UCS-2 and leaves binary alone', () => {
    expect(decodeInbound(0, encodeGsm7Unpacked('STATUS {1}'), 0).text).toBe('STATUS {1}');
    expect(decodeInbound(3, Buffer.from('Café', 'latin1'), 0).text).toBe('Café');
    expect(decodeInbound(8, Buffer.from([0x04, 0x21, 0x04, 0x22]), 0).text).toBe('СТ');
    expect(decodeInbound(4, Buffer.from([1, 2, 3]), 0).text).toBeNull();
    expect(decodeInbound(0xf6, Buffer.from([1, 2]), 0).text).toBeNull();
  });
  it('reads the concatenation UDH (8- and 16-bit references)', () => {
    expect(decodeInbound(0, Buffer.from([5, 0, 3, 9, 2, 1, 0x41]), 0x40)).toEqual({ text: 'A', concat: { ref: 9, total: 2, seq: 1 } });
    expect(decodeInbound(0, Buffer.from([6, 8, 4, 1, 2, 3, 2, 0x42]), 0x40)).toEqual({ text: 'B', concat: { ref: 258, total: 3, seq: 2 } });
  });
  it('parses a raw deliver_sm with SAR TLVs and rejects a truncated one', () => {
    const body = Buffer.concat([
      Buffer.from('\0'), Buffer.from([1, 1]), Buffer.from('77011234567\0'), Buffer.from([1, 1]), Buffer.from('7575\0'),
      Buffer.from([0, 0, 0]), Buffer.from('\0\0'), Buffer.from([0, 0, 0, 0, 2]), Buffer.from('HI'),
      Buffer.from([0x02, 0x0c, 0, 2, 1, 44, 0x02, 0x0e, 0, 1, 2, 0x02, 0x0f, 0, 1, 1]),
    ]);
    const head = Buffer.alloc(16);
    head.writeUInt32BE(16 + body.length, 0);
    head.writeUInt32BE(5, 4);
    head.writeUInt32BE(77, 12);
    const d = parseDeliverSm(Buffer.concat([head, body]));
    expect(d).toMatchObject({ sequence: 77, sourceAddr: '+77011234567', destAddr: '7575', dataCoding: 0, sar: { ref: 300, total: 2, seq: 1 } });
    expect(d.shortMessage.toString()).toBe('HI');
    const cut = Buffer.concat([head, body]).subarray(0, 30);
    cut.writeUInt32BE(30, 0);
    expect(() => parseDeliverSm(cut)).toThrow(RangeError);
  });
});

describe('joining multi-part messages', () => {
  it('joins parts in any order, ignores duplicates, expires the incomplete', () => {
    const a = new ConcatAssembler({ timeoutMs: 1_000 });
    expect(a.add({ sender: 's', ref: 1, total: 3, seq: 3, text: 'c', now: 0 })).toBeNull();
    expect(a.add({ sender: 's', ref: 1, total: 3, seq: 1, text: 'a', now: 1 })).toBeNull();
    expect(a.add({ sender: 's', ref: 1, total: 3, seq: 1, text: 'X', now: 2 })).toBeNull();
    expect(a.add({ sender: 's', ref: 1, total: 3, seq: 2, text: 'b', now: 3 })).toBe('abc');
    expect(a.add({ sender: 's', ref: 2, total: 2, seq: 1, text: 'x', now: 10 })).toBeNull();
    expect(a.expire(2_000)).toEqual([{ sender: 's', received: 1, total: 2 }]);
    expect(a.size).toBe(0);
  });
  it('caps what one sender can make it hold, and refuses absurd part numbers', () => {
    const a = new ConcatAssembler({ maxPartsPerSender: 3 });
    for (let ref = 0; ref < 3; ref++) a.add({ sender: 'flood', ref, total: 5, seq: 1, text: 'x', now: 0 });
    expect(a.add({ sender: 'flood', ref: 9, total: 5, seq: 1, text: 'x', now: 0 })).toBeNull();
    expect(a.size).toBe(3);
    expect(a.add({ sender: 'other', ref: 1, total: 200, seq: 1, text: 'x', now: 0 })).toBeNull();
    expect(a.add({ sender: 'other', ref: 1, total: 2, seq: 3, text: 'x', now: 0 })).toBeNull();
    expect(a.size).toBe(3);
  });
});

describe('SMSC statuses', () => {
  it('fails at once only on statuses that mean the message itself is refused', async () => {
    const { isPermanent } = await import('../../src/sms/session.ts');
    for (const s of [0x0a, 0x0b, 0x01, 0x62, 0x0104]) expect(isPermanent(s)).toBe(true);
    // busy, faulty, or a vendor code we do not know: retried (bounded)
    for (const s of [0x08, 0x14, 0x45, 0x58, 0x64, 0xfe, 0xff, 0x0400, 0x04ff]) expect(isPermanent(s)).toBe(false);
  });
});
