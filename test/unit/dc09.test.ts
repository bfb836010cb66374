import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONTACT_ID_TABLE, FrameSplitter, MAX_FRAME_BYTES, SIA_TABLE, ack, buildFrame, checkTimestamp, crc16, decryptPayload,
  duh, encryptPayload, formatTimestamp, frameEvents, mapEvent, nak, parseContactId, parseFrame, parseSia, parseTimestamp,
  type Dc09Frame, type ParseResult,
} from '../../src/panels/dc09.ts';
import { PanelSimulator, crcArc, decodeReply, encodeMessage } from '../sim/panel.ts';

/** CRC-16/ARC bit by bit, MSB-first form with the polynomial and data reflected by hand. */
function crcReference(bytes: Buffer): number {
  const reflect = (v: number, bits: number): number => {
    let r = 0;
    for (let i = 0; i < bits; i++) if (v & (1 << i)) r |= 1 << (bits - 1 - i);
    return r;
  };
  let crc = 0;
  for (const b of bytes) {
    crc ^= reflect(b, 8) << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return reflect(crc, 16);
}

const KEY128 = '000102030405060708090A0B0C0D0E0F';
const KEY192 = `${KEY128}1011121314151617`;
const KEY256 = `${KEY128}101112131415161718191A1B1C1D1E1F`;
const T = new Date(Date.UTC(2026, 2, 14, 9, 5, 7));

const okFrame = (r: ParseResult): Dc09Frame => {
  if (!r.ok) throw new Error(`expected a frame, got ${r.error}: ${r.reason}`);
  return r.frame;
};

describe('CRC-16/ARC', () => {
  it('has the catalogue check value', () => {
    expect(crc16('123456789')).toBe(0xbb3d);
    expect(crcReference(Buffer.from('123456789'))).toBe(0xbb3d);
    expect(crc16('')).toBe(0);
  });

  it('agrees with a bitwise implementation on random input', () => {
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.from(Array.from({ length: n % 37 }, (_, i) => (i * 73 + n * 31) & 0xff));
      expect(crc16(bytes)).toBe(crcReference(bytes));
    }
  });
});

describe('frames captured from panels', () => {
  // CRC, length and fields as real communicators sent them
  it.each([
    ['9EC40027"ADM-CID"0001L0#1002[#1002|1602 00 001]', 'ADM-CID', '0001', null, '0', '1002', '#1002|1602 00 001', null],
    ['75140027"ADM-CID"0001L0#1002[#1002|3354 00 004]', 'ADM-CID', '0001', null, '0', '1002', '#1002|3354 00 004', null],
    ['F68B003B"ADM-CID"0028L0#9757[#9757|1602 00 000]_20:59:45,02-20-2024', 'ADM-CID', '0028', null, '0', '9757', '#9757|1602 00 000', '2024-02-20T20:59:45.000Z'],
    ['B0970029"NULL"0000L000#0809[]_21:00:01,02-20-2024', 'NULL', '0000', null, '000', '0809', '', '2024-02-20T21:00:01.000Z'],
    ['3F60003C"SIA-DCS"0001L0#51449[#51449|Nri0000/LR]_21:26:19,12-20-2023', 'SIA-DCS', '0001', null, '0', '51449', '#51449|Nri0000/LR', '2023-12-20T21:26:19.000Z'],
    ['37070047"SIA-DCS"0038R0L0#10303117[#10303117|Nri0001/BH005]_13:44:48,08-17-2022', 'SIA-DCS', '0038', '0', '0', '10303117', '#10303117|Nri0001/BH005', '2022-08-17T13:44:48.000Z'],
    ['F92F0043"ADM-CID"0020R7896L7896#3456[#3456|1407 00 001]_17:01:14,07-26-2024', 'ADM-CID', '0020', '7896', '7896', '3456', '#3456|1407 00 001', '2024-07-26T17:01:14.000Z'],
    ['D730002F"NULL"0000R7896L7896#3456[]_17:01:26,07-26-2024', 'NULL', '0000', '7896', '7896', '3456', '', '2024-07-26T17:01:26.000Z'],
  ])('%s', (text, token, seq, receiver, line, account, data, ts) => {
    const f = okFrame(parseFrame(`\n${text}\r`));
    expect(f).toMatchObject({ token, seq, receiver, line, account, data, encrypted: false });
    expect(f.timestamp?.toISOString() ?? null).toBe(ts);
    // rebuilding gives the same bytes
    expect(buildFrame({ token: f.token, seq: f.seq, receiver: f.receiver, line: f.line, account: f.account, data: f.data, timestamp: f.timestamp })
      .toString('latin1')).toBe(`\n${text}\r`);
  });
});

describe('parseFrame', () => {
  const good = buildFrame({ token: 'ADM-CID', seq: 12, receiver: 'A1', line: '2', account: '1234', data: '#1234|1130 01 015', timestamp: T });

  it('round-trips a clear frame with receiver, extended data and timestamp', () => {
    const raw = buildFrame({ token: 'SIA-DCS', seq: 9999, receiver: 'FFFFFF', line: 'ABCDEF', account: '0123456789ABCDEF', data: '#0123456789ABCDEF|Nri1/BA015', extended: ['X030E0000', 'Y04500000'], timestamp: T });
    expect(okFrame(parseFrame(raw))).toEqual({
      token: 'SIA-DCS', encrypted: false, seq: '9999', receiver: 'FFFFFF', line: 'ABCDEF', account: '0123456789ABCDEF',
      data: '#0123456789ABCDEF|Nri1/BA015', extended: ['X030E0000', 'Y04500000'], timestamp: T,
    });
    expect(okFrame(parseFrame(good)).timestamp).toEqual(T);
  });

  it('reports a wrong CRC as crc and a wrong length as length', () => {
    const s = good.toString('latin1');
    const crc = s.slice(1, 5) === '0000' ? '0001' : '0000';
    expect(parseFrame(`\n${crc}${s.slice(5)}`)).toMatchObject({ ok: false, error: 'crc' });
    const body = s.slice(9, -1);
    expect(parseFrame(`\n${s.slice(1, 5)}0${(body.length + 1).toString(16).padStart(3, '0')}${body}\r`)).toMatchObject({ ok: false, error: 'length' });
    // one flipped byte in the body
    const flipped = Buffer.from(good);
    flipped[20] = flipped[20]! ^ 0x01;
    expect(parseFrame(flipped)).toMatchObject({ ok: false, error: 'crc' });
  });

  it.each([
    ['empty', ''],
    ['no LF', good.toString('latin1').slice(1)],
    ['no CR', good.toString('latin1').slice(0, -1)],
    ['binary', Buffer.from([0x0a, 0xff, 0x00, 0x13, 0x37, 0x0d])],
    ['length not hex', '\nZZZZ0010"NULL"0001L0[]\r'],
  ])('never throws on garbage: %s', (_name, input) => {
    expect(parseFrame(input)).toMatchObject({ ok: false, error: 'format' });
  });

  it.each([
    ['unknown token', '"FOO"0001L0#123[]'],
    ['short sequence', '"NULL"001L0#123[]'],
    ['no line', '"NULL"0001R1#123[]'],
    ['account too short', '"NULL"0001L0#12[]'],
    ['no data bracket', '"NULL"0001L0#123'],
    ['trailing text', '"NULL"0001L0#123[]junk'],
    ['impossible time', '"NULL"0001L0#123[]_25:00:00,01-01-2026'],
    ['encrypted without key', '"*NULL"0001L0#123[00112233445566778899AABBCCDDEEFF]'],
  ])('well framed but %s is a format error', (_name, body) => {
    const len = body.length.toString(16).toUpperCase().padStart(3, '0');
    const frame = `\n${crcArc(body).toString(16).toUpperCase().padStart(4, '0')}0${len}${body}\r`;
    expect(parseFrame(frame)).toMatchObject({ ok: false, error: 'format' });
  });

  it('gives the header with a format error when the header parsed (for a DUH)', () => {
    const raw = buildFrame({ token: 'SIA-DCS', seq: 7, line: '1', account: 'ABC', data: 'x', key: KEY128, timestamp: T });
    const r = parseFrame(raw, { keyFor: () => undefined });
    expect(r).toMatchObject({ ok: false, error: 'format', header: { token: 'SIA-DCS', seq: '0007', account: 'ABC', encrypted: true } });
    if (r.ok || !r.header) throw new Error('header expected');
    expect(parseFrame(duh(r.header))).toMatchObject({ ok: true, frame: { token: 'DUH', seq: '0007', account: 'ABC', line: '1' } });
  });
});

describe('encryption', () => {
  it.each([['128', KEY128], ['192', KEY192], ['256', KEY256]])('AES-%s round trip through frames and ACKs', (_bits, key) => {
    for (const data of ['', '#1234|1130 01 015', '#1234|Nri1/BA015/BR016/OP002/CL002/YS/RP']) {
      const raw = buildFrame({ token: 'ADM-CID', seq: 3, receiver: '5', line: '1', account: '1234', data, extended: ['X1'], key, timestamp: T });
      const text = raw.toString('latin1');
      expect(text).toMatch(/^\n[0-9A-F]{4}0[0-9A-F]{3}"\*ADM-CID"0003R5L1#1234\[([0-9A-F]{32})+\r$/);
      expect(text.slice(text.indexOf('[') + 1)).toMatch(/^[0-9A-F]+\r$/);
      const f = okFrame(parseFrame(raw, { keyFor: (a) => (a === '1234' ? key : undefined) }));
      expect(f).toMatchObject({ encrypted: true, token: 'ADM-CID', data, extended: ['X1'], timestamp: T });
      const reply = ack(f, { key, now: T });
      expect(reply.toString('latin1')).toMatch(/"\*ACK"0003R5L1#1234\[/);
      expect(okFrame(parseFrame(reply, { keyFor: () => key }))).toMatchObject({ token: 'ACK', encrypted: true, data: '', timestamp: T });
    }
  });

  it('pads to whole blocks with characters other than | [ ] and decrypts what the simulator encrypts', () => {
    for (let n = 0; n < 40; n++) {
      const content = `${'9'.repeat(n)}]${formatTimestamp(T)}`;
      const hex = encryptPayload(content, KEY192);
      expect(hex.length % 32).toBe(0);
      expect(decryptPayload(hex, KEY192)).toBe(content);
    }
    const sim = encodeMessage({ token: 'SIA-DCS', seq: 41, line: '3', account: 'BEEF', data: '#BEEF|Nri2/PA001', key: KEY256, time: T });
    expect(okFrame(parseFrame(sim, { keyFor: () => KEY256 }))).toMatchObject({ data: '#BEEF|Nri2/PA001', seq: '0041', timestamp: T });
  });

  it('a wrong key or a broken cipher text is a format error, not a throw', () => {
    const raw = buildFrame({ token: 'NULL', seq: 1, line: '0', account: '123', key: KEY128, timestamp: T });
    expect(parseFrame(raw, { keyFor: () => KEY256 })).toMatchObject({ ok: false, error: 'format' });
    const body = '"*NULL"0001L0#123[ABC]';
    const frame = `\n${crcArc(body).toString(16).toUpperCase().padStart(4, '0')}0${body.length.toString(16).padStart(3, '0')}${body}\r`;
    expect(parseFrame(frame, { keyFor: () => KEY128 })).toMatchObject({ ok: false, error: 'format' });
  });

  it('refuses to build with a bad key or encrypted without a timestamp', () => {
    expect(() => buildFrame({ token: 'NULL', seq: 1, line: '0', key: 'ABC', timestamp: T })).toThrow(RangeError);
    expect(() => buildFrame({ token: 'NULL', seq: 1, line: '0', key: KEY128, timestamp: null })).toThrow(RangeError);
    const enc = okFrame(parseFrame(buildFrame({ token: 'NULL', seq: 1, line: '0', account: '123', key: KEY128, timestamp: T }), { keyFor: () => KEY128 }));
    expect(() => ack(enc)).toThrow(RangeError);
  });
});

describe('acknowledgements', () => {
  const f = okFrame(parseFrame(buildFrame({ token: 'SIA-DCS', seq: 77, receiver: '12', line: '3', account: '4567', data: '#4567|NBA1', timestamp: T })));

  it('ACK and DUH echo sequence, receiver, line and account', () => {
    expect(ack(f).toString('latin1').slice(9, -1)).toBe('"ACK"0077R12L3#4567[]');
    expect(duh(f).toString('latin1').slice(9, -1)).toBe('"DUH"0077R12L3#4567[]');
  });

  it('NAK carries the receiver time', () => {
    const n = okFrame(parseFrame(nak(T)));
    expect(n).toMatchObject({ token: 'NAK', seq: '0000', timestamp: T });
    expect(nak(T).toString('latin1').slice(9, -1)).toBe(`"NAK"0000R0L0A0[]${formatTimestamp(T)}`);
  });
});

describe('timestamps', () => {
  it('formats and parses UTC', () => {
    expect(formatTimestamp(T)).toBe('_09:05:07,03-14-2026');
    expect(parseTimestamp('_09:05:07,03-14-2026')).toEqual(T);
    expect(parseTimestamp('_09:05:07,02-30-2026')).toBeNull();
    expect(parseTimestamp('09:05:07,03-14-2026')).toBeNull();
  });

  it('accepts within the window either way and rejects outside it', () => {
    const now = T.getTime();
    expect(checkTimestamp(new Date(now - 20_000), T)).toBe(true);
    expect(checkTimestamp(new Date(now + 20_000), T)).toBe(true);
    expect(checkTimestamp(new Date(now - 20_001), T)).toBe(false);
    expect(checkTimestamp(new Date(now + 20_001), T)).toBe(false);
    expect(checkTimestamp(new Date(now - 50_000), T, 60_000)).toBe(true);
    expect(checkTimestamp(null, T)).toBe(true);
  });
});

describe('FrameSplitter', () => {
  const frames = [
    buildFrame({ token: 'ADM-CID', seq: 1, line: '0', account: '1234', data: '#1234|1130 01 015', timestamp: T }),
    buildFrame({ token: 'NULL', seq: 2, line: '0', account: '1234', key: KEY128, timestamp: T }),
    buildFrame({ token: 'SIA-DCS', seq: 3, line: '0', account: '1234', data: '#1234|Nri1/BA015' }),
  ];
  const stream = Buffer.concat([Buffer.from('noise'), frames[0]!, Buffer.from('\r\n'), frames[1]!, frames[2]!]);

  it('gives the same frames whatever the cut', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new FrameSplitter();
      const items = [...s.push(stream.subarray(0, cut)), ...s.push(stream.subarray(cut))];
      const got = items.filter((i) => i.kind === 'frame').map((i) => (i.kind === 'frame' ? i.bytes.toString('latin1') : ''));
      expect(got).toEqual(frames.map((f) => f.toString('latin1')));
      expect(items.some((i) => i.kind === 'oversized')).toBe(false);
      expect(s.pending).toBe(0);
    }
  });

  it('gives the same frames fed a byte at a time', () => {
    const s = new FrameSplitter();
    const items = [...stream].flatMap((b) => s.push(Buffer.from([b])));
    expect(items.map((i) => (i.kind === 'frame' ? parseFrame(i.bytes, { keyFor: () => KEY128 }).ok : false))).toEqual([true, true, true]);
  });

  it('reports an oversized frame once, drops it, and carries on', () => {
    const s = new FrameSplitter();
    const huge = Buffer.concat([Buffer.from('\n'), Buffer.alloc(MAX_FRAME_BYTES + 10, 0x41)]);
    const first = s.push(huge);
    expect(first).toEqual([{ kind: 'oversized', bytes: MAX_FRAME_BYTES + 11 }]);
    expect(s.pending).toBe(0);
    const after = s.push(Buffer.concat([Buffer.alloc(500, 0x42), Buffer.from('\r'), frames[0]!]));
    expect(after).toEqual([{ kind: 'frame', bytes: frames[0] }]);
  });

  it('reports a complete frame over the limit as oversized', () => {
    const s = new FrameSplitter(40);
    expect(s.push(frames[0]!)).toEqual([{ kind: 'oversized', bytes: frames[0]!.length }]);
    expect(s.push(frames[2]!.subarray(0, 10))).toEqual([]);
    expect(s.pending).toBe(10);
  });
});

describe('Contact ID', () => {
  it('parses qualifier, event, partition and zone', () => {
    expect(parseContactId('#1234|1130 01 015')).toEqual({ format: 'cid', account: '1234', qualifier: 1, code: '130', partition: '01', zone: '015', raw: '#1234|1130 01 015' });
    expect(parseContactId('9757|1602 00 000')).toMatchObject({ account: '9757', code: '602' });
    expect(parseContactId('3401 02 007')).toMatchObject({ account: null, qualifier: 3, code: '401', partition: '02', zone: '007' });
    for (const bad of ['', '#1234|2130 01 015', '#1234|1130 01 15', '#1234|113 01 015', '#1234|1130-01-015']) expect(parseContactId(bad)).toBeNull();
  });

  it.each([
    ['1110 01 003', 'alarm', 'fire', '003', null],
    ['3110 01 003', 'restore', 'fire', '003', null],
    ['1120 01 000', 'alarm', 'panic', '000', null],
    ['1121 01 004', 'alarm', 'panic', '004', null],
    ['1130 01 015', 'alarm', 'burglary', '015', null],
    ['1137 01 002', 'alarm', 'tamper', '002', null],
    ['3137 01 002', 'restore', 'tamper', '002', null],
    ['1154 01 009', 'alarm', 'flood', '009', null],
    ['1301 00 000', 'trouble', null, '000', null],
    ['3301 00 000', 'trouble', null, '000', null],
    // a failed path of the panel's own, reported over another: not "no link"
    ['1350 00 000', 'trouble', null, '000', null],
    ['3350 00 000', 'trouble', null, '000', null],
    ['1401 01 005', 'disarm', null, null, '005'],
    ['3401 01 005', 'arm', null, null, '005'],
    ['3441 02 001', 'arm', null, null, '001'],
    ['1602 00 000', 'test', null, '000', null],
    ['1999 01 001', 'trouble', null, '001', null],
    ['1570 01 004', 'trouble', null, '004', null],
  ])('%s → %s %s', (data, type, kind, zone, user) => {
    const e = mapEvent(parseContactId(`#1234|${data}`)!);
    expect(e).toMatchObject({ type, kind, zone, user, raw: `#1234|${data}` });
  });

  it('keeps the code and partition; an unknown code is never dropped', () => {
    expect(mapEvent(parseContactId('1999 03 001')!)).toEqual({ type: 'trouble', kind: null, zone: '001', partition: '03', user: null, code: 'E999', raw: '1999 03 001' });
    expect(mapEvent(parseContactId('3130 00 001')!)).toMatchObject({ code: 'R130', partition: null });
  });
});

describe('SIA DC-03', () => {
  it('parses area, user, time and several events', () => {
    expect(parseSia('#1234|Nri1/BA015')).toEqual([{ format: 'sia', account: '1234', code: 'BA', address: '015', area: '1', user: null, raw: '#1234|Nri1/BA015' }]);
    const es = parseSia('#AB12|Nti10:15/ri2/BR003/id7/OP7/ri3/CL012')!;
    expect(es.map((e) => [e.code, e.address, e.area, e.user])).toEqual([['BR', '003', '2', null], ['OP', '7', '2', '7'], ['CL', '012', '3', '7']]);
    expect(parseSia('Nri0001/BH005^Hall^')).toMatchObject([{ code: 'BH', address: '005', area: '0001', account: null }]);
    expect(parseSia('36214|NRP')).toMatchObject([{ code: 'RP', address: null, account: '36214' }]);
    for (const bad of ['', 'X', '#1234|Nri1', '#1234|N/ba1', '#1234|Nri1/B']) expect(parseSia(bad)).toBeNull();
  });

  it.each([
    ['BA015', 'alarm', 'burglary', '015', null],
    ['BR015', 'restore', 'burglary', '015', null],
    ['FA002', 'alarm', 'fire', '002', null],
    ['FR002', 'restore', 'fire', '002', null],
    ['PA000', 'alarm', 'panic', '000', null],
    ['TA004', 'alarm', 'tamper', '004', null],
    ['WA006', 'alarm', 'flood', '006', null],
    ['WR006', 'restore', 'flood', '006', null],
    ['OP003', 'disarm', null, null, '003'],
    ['CL003', 'arm', null, null, '003'],
    ['YS', 'trouble', null, null, null],
    ['YR', 'trouble', null, null, null],
    ['RP', 'test', null, null, null],
    ['ZZ9', 'trouble', null, '9', null],
    ['LR', 'trouble', null, null, null],
  ])('%s → %s %s', (ev, type, kind, zone, user) => {
    const [e] = parseSia(`#1234|Nri1/${ev}`)!;
    expect(mapEvent(e!)).toMatchObject({ type, kind, zone, user, partition: '1', code: ev.slice(0, 2) });
  });

  it('the exported tables name only product types and kinds', async () => {
    const { MONITORING_TYPES, ALARM_KINDS } = await import('../../src/domain/types.ts');
    const rows = [...CONTACT_ID_TABLE.flatMap((r) => [[r.new, r.kind], [r.restore, r.kind]]), ...Object.values(SIA_TABLE).map((r) => [r.type, r.kind])];
    for (const [type, kind] of rows) {
      expect(MONITORING_TYPES).toContain(type);
      if (kind !== null) expect(ALARM_KINDS).toContain(kind);
    }
  });
});

describe('frameEvents', () => {
  const frame = (token: 'ADM-CID' | 'SIA-DCS' | 'NULL', data: string): Dc09Frame =>
    okFrame(parseFrame(buildFrame({ token, seq: 1, line: '0', account: '1234', data })));

  it('maps each token', () => {
    expect(frameEvents(frame('ADM-CID', '#1234|1130 01 015'))).toMatchObject([{ type: 'alarm', kind: 'burglary', zone: '015' }]);
    expect(frameEvents(frame('SIA-DCS', '#1234|Nri1/FA001/BA002'))).toMatchObject([{ kind: 'fire' }, { kind: 'burglary' }]);
    expect(frameEvents(frame('NULL', ''))).toEqual([]);
  });

  it('keeps data it cannot read as trouble', () => {
    expect(frameEvents(frame('ADM-CID', 'garbled'))).toEqual([{ type: 'trouble', kind: null, zone: null, partition: null, user: null, code: 'ADM-CID', raw: 'garbled' }]);
    expect(frameEvents(frame('SIA-DCS', 'garbled'))).toMatchObject([{ type: 'trouble', raw: 'garbled' }]);
  });
});

describe('panel simulator against a receiver built on the codec', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });

  const KEYS: Record<string, string> = { BEEF: KEY256 };
  const received: Dc09Frame[] = [];

  /** Receiver logic: NAK bad CRC/length/time, DUH format errors and replays, ACK the rest. */
  function answer(bytes: Buffer, lastSeq: Map<string, string>): Buffer {
    const r = parseFrame(bytes, { keyFor: (a) => KEYS[a] });
    if (!r.ok) return r.error === 'format' && r.header ? duh(r.header) : nak();
    const f = r.frame;
    if (!checkTimestamp(f.timestamp, new Date())) return nak();
    const key = f.account ? `${f.account}/${f.line}` : f.line;
    if (f.token !== 'NULL' && lastSeq.get(key) === f.seq) return duh(f);
    lastSeq.set(key, f.seq);
    received.push(f);
    return ack(f, { key: f.account ? KEYS[f.account] : undefined });
  }

  async function tcpReceiver(): Promise<number> {
    const server = net.createServer((sock) => {
      const split = new FrameSplitter();
      const seqs = new Map<string, string>();
      sock.on('data', (chunk) => {
        for (const item of split.push(chunk)) sock.write(item.kind === 'frame' ? answer(item.bytes, seqs) : nak());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as net.AddressInfo).port;
  }

  async function udpReceiver(): Promise<number> {
    const sock = dgram.createSocket('udp4');
    const seqs = new Map<string, string>();
    sock.on('message', (msg, from) => sock.send(answer(msg, seqs), from.port, from.address));
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
    return sock.address().port;
  }

  it.each([
    ['tcp', undefined], ['tcp', KEY256], ['udp', undefined], ['udp', KEY256],
  ] as const)('%s, key %s: ACK, NAK on bad CRC and stale time, DUH on replay', async (transport, key) => {
    received.length = 0;
    const port = transport === 'tcp' ? await tcpReceiver() : await udpReceiver();
    const panel = new PanelSimulator({ port, transport, account: 'BEEF', receiver: '1', line: '2', ...(key ? { key } : {}) });
    closers.push(() => panel.close());

    const a = await panel.send({ token: 'ADM-CID', data: '#BEEF|1130 01 015' });
    expect(a).toMatchObject({ token: 'ACK', seq: '0001', account: 'BEEF', encrypted: !!key, crcOk: true });
    if (key) expect(a.timestamp).toMatch(/^_\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}$/);
    expect(received.at(-1)).toMatchObject({ token: 'ADM-CID', data: '#BEEF|1130 01 015', encrypted: !!key });
    expect(frameEvents(received.at(-1)!)).toMatchObject([{ type: 'alarm', kind: 'burglary', zone: '015', partition: '01' }]);

    const s = await panel.send({ token: 'SIA-DCS', data: '#BEEF|Nri1/OP003' });
    expect(s).toMatchObject({ token: 'ACK', seq: '0002' });
    expect(frameEvents(received.at(-1)!)).toMatchObject([{ type: 'disarm', user: '003', partition: '1' }]);

    expect(await panel.send({ token: 'NULL' })).toMatchObject({ token: 'ACK', seq: '0003' });

    const bad = await panel.send({ token: 'ADM-CID', data: '#BEEF|1110 01 001', badCrc: true });
    expect(bad).toMatchObject({ token: 'NAK', seq: '0000', crcOk: true });
    expect(bad.timestamp).toMatch(/^_\d\d:\d\d:\d\d,/);

    expect(await panel.send({ token: 'ADM-CID', data: '#BEEF|1110 01 001', clockSkewMs: -120_000 })).toMatchObject({ token: 'NAK' });
    expect(await panel.send({ token: 'ADM-CID', data: '#BEEF|1110 01 001' })).toMatchObject({ token: 'ACK', seq: '0006' });
    expect(await panel.send({ token: 'ADM-CID', data: '#BEEF|1110 01 001', replay: true })).toMatchObject({ token: 'DUH', seq: '0006' });
    expect(received).toHaveLength(4);
  });

  it('an encrypted message for an account without a key gets DUH', async () => {
    const port = await udpReceiver();
    const panel = new PanelSimulator({ port, transport: 'udp', account: 'CAFE', line: '1', key: KEY128 });
    closers.push(() => panel.close());
    expect(await panel.send({ token: 'ADM-CID', data: '#CAFE|1130 01 001' })).toMatchObject({ token: 'DUH', account: 'CAFE', seq: '0001' });
  });

  it('codec replies decode in the simulator and simulator messages parse in the codec', () => {
    const msg = encodeMessage({ token: 'ADM-CID', seq: 9, receiver: '3', line: '4', account: '1234', data: '#1234|3401 01 002', time: null });
    const f = okFrame(parseFrame(msg));
    expect(f).toMatchObject({ token: 'ADM-CID', seq: '0009', receiver: '3', line: '4', account: '1234', timestamp: null });
    expect(decodeReply(ack(f))).toMatchObject({ token: 'ACK', seq: '0009', crcOk: true, encrypted: false });
    expect(decodeReply(nak(T))).toMatchObject({ token: 'NAK', timestamp: formatTimestamp(T) });
    expect(decodeReply(duh(f))).toMatchObject({ token: 'DUH', seq: '0009' });
    expect(parseFrame(encodeMessage({ token: 'NULL', seq: 1, line: '0', account: '123', data: '', time: T }, true))).toMatchObject({ ok: false, error: 'crc' });
  });
});
