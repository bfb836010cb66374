import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.ts';
import { tempDir } from '../support/core-fixture.ts';
import { zhedel } from '../support/cli.ts';

let env: Record<string, string>;
beforeAll(() => {
  env = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db') };
});

async function ok(args: string[], e = env): Promise<string> {
  const r = await zhedel(args, e);
  if (r.code !== 0) throw new Error(`zhedel ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function json<T>(args: string[], e = env): Promise<T> {
  return JSON.parse(await ok([...args, '--json'], e)) as T;
}

describe('zhedel command line', () => {
  it('registers a client, confirms a number by code, arms, disarms, blocks and verifies the journal', async () => {
    const client = await json<{ id: number; balance: number }>(['client', 'add', '--name', 'Асель Нурланова', '--lang', 'kk', '--balance', '1500.50']);
    expect(client.balance).toBe(150_050);
    expect(existsSync(join(env.ZHEDEL_DB as string, '..', 'secret'))).toBe(true);
    expect(await ok(['object', 'add', '--client', String(client.id), '--code', '4021', '--address', 'Алматы, Достык 5'])).toContain('object 4021 added');
    expect(await ok(['number', 'add', '--client', String(client.id), '--phone', '8 (701) 555-12-34'])).toContain('+77015551234 is pending');

    const masked = await ok(['outbox']);
    expect(masked).toContain('[code hidden]');
    expect(masked).not.toMatch(/Код \d{6}/);
    const revealed = await ok(['outbox', '--reveal']);
    const code = /Код (\d{6})/.exec(revealed)?.[1];
    expect(code).toMatch(/^\d{6}$/);

    const wrong = await zhedel(['number', 'confirm', '--phone', '87015551234', '--code', code === '000000' ? '111111' : '000000'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toContain('CODE_WRONG');

    expect(await ok(['number', 'confirm', '--phone', '87015551234', '--code', code as string])).toContain('confirmed');
    expect(await ok(['sms', 'send', '--phone', '87015551234', '--text', 'Құрметті клиент, сәлем!'])).toMatch(/queued as outbox message \d+/);
    const notSent = await zhedel(['sms', 'send', '--phone', '87019990000', '--text', 'spam'], env);
    expect(notSent.code).toBe(1);
    expect(notSent.stderr).toContain('NUMBER_NOT_FOUND');
    expect(await ok(['identify', '--phone', '+77015551234'])).toContain('objects 4021');
    expect(await ok(['arm', '--object', '4021', '--operator', 'Aigerim'])).toContain('4021: armed');
    expect(await ok(['status', '--object', '4021'])).toMatch(/4021\s+armed/);
    expect(await ok(['disarm', '--object', '4021', '--operator', 'Aigerim'])).toContain('4021: disarmed');
    expect(await ok(['number', 'block', '--phone', '87015551234', '--reason', 'lost'])).toContain('blocked');
    expect(await ok(['identify', '--phone', '87015551234'])).toContain('refused (blocked)');
    expect(await ok(['pay', '--client', String(client.id), '--amount', '2000'])).toContain('balance 3500.50 KZT');

    const journal = await ok(['journal', '--object', '4021']);
    expect(journal).toMatch(/disarm\s+executed\s+auth=operator.*by=Aigerim/);
    expect(await ok(['journal', '--verify'])).toMatch(/journal intact: \d+ records/);
    const list = await json<Array<{ name: string }>>(['client', 'list']);
    expect(list.map((c) => c.name)).toContain('Асель Нурланова');
  });

  it('shows and sets the ceiling on code SMS per number per hour', async () => {
    expect(await ok(['otp', 'ceiling'])).toMatch(/code SMS per number per hour: 10 \(sign-in 3, actions 7\)/);
    expect(await json(['otp', 'ceiling', '--per-hour', '14', '--operator', 'Aigerim'])).toEqual({ ceilingPerHour: 14, budgets: { 'sign-in': 3, action: 11 }, resendPauseSeconds: 60 });
    expect(await json(['otp', 'ceiling'])).toMatchObject({ ceilingPerHour: 14 });
    const low = await zhedel(['otp', 'ceiling', '--per-hour', '5'], env);
    expect(low.code).toBe(1);
    expect(low.stderr).toMatch(/^zhedel: BAD_INPUT: the ceiling must be an integer from 6 to 100/);
    const j = await json<Array<{ action: string; operator: string; detail: string }>>(['journal', '--limit', '1']);
    expect(j[0]).toMatchObject({ action: 'setting-change', operator: 'Aigerim', detail: 'otp.ceiling_per_hour=14 was=10' });
  });

  it('refuses bad input with one line on stderr and a non-zero exit', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['frobnicate'], 2, /unknown command/],
      [['client', 'add'], 2, /--name is required/],
      [['client', 'add', '--name', 'X', '--lang', 'en'], 1, /BAD_INPUT/],
      [['client', 'add', '--name', 'X', '--balance', '-5'], 2, /./],
      [['number', 'add', '--client', '1', '--phone', '+7 916 000 00 00'], 1, /BAD_PHONE/],
      [['number', 'add', '--client', '999', '--phone', '87017778899'], 1, /CLIENT_NOT_FOUND/],
      [['number', 'block', '--phone', '87017778899', '--reason', 'bored'], 2, /--reason must be/],
      [['arm', '--object', '99999'], 1, /OBJECT_NOT_FOUND/],
      [['pay', '--client', '1', '--amount', '1.234'], 1, /BAD_AMOUNT/],
      [['object', 'add', '--client', '1', '--code', '12', '--address', 'x'], 1, /object code/],
    ];
    for (const [args, code, re] of cases) {
      const r = await zhedel(args, env);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(re);
      expect(r.stderr).toMatch(/^zhedel: /);
    }
  });

  it('outbox pages back past the newest thousand and finds the messages flagged as possible duplicates', async () => {
    const own = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db') };
    const db = openDb(own.ZHEDEL_DB);
    const ins = db.prepare(`INSERT INTO outbox (priority, kind, phone, body, secret, state, created_at, not_before, updated_at, duplicate_risk)
      VALUES (2, 'notice', '+77011234567', ?, 0, ?, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', ?)`);
    db.transaction(() => {
      for (let i = 1; i <= 1205; i++) ins.run(`notice ${i}`, i % 2 ? 'submitted' : 'delivered', i % 100 === 0 ? 1 : 0);
    })();
    db.close();
    type Msg = { id: number; duplicateRisk: boolean };
    const page1 = await json<Msg[]>(['outbox', '--limit', '1000'], own);
    expect([page1.length, page1[0]?.id, page1.at(-1)?.id]).toEqual([1000, 1205, 206]);
    const page2 = await json<Msg[]>(['outbox', '--before', '206', '--limit', '1000'], own);
    expect([page2.length, page2[0]?.id, page2.at(-1)?.id]).toEqual([205, 205, 1]);
    const text = await ok(['outbox', '--before', '1000', '--limit', '3'], own);
    expect(text.trim().split('\n')).toHaveLength(4);
    expect(text).toContain('older messages: --before 997');
    const dups = await json<Msg[]>(['outbox', '--state', 'possible-duplicate'], own);
    expect(dups.map((m) => m.id)).toEqual([1200, 1100, 1000, 900, 800, 700, 600, 500, 400, 300, 200, 100]);
    expect(dups.every((m) => m.duplicateRisk)).toBe(true);
    expect(await ok(['outbox', '--state', 'possible-duplicate', '--before', '300'], own)).toMatch(/^\s+200 .*possible-duplicate.*\n\s+100 /);
    const bad = await zhedel(['outbox', '--limit', '5000'], own);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('--limit')]);
  }, 180_000);

  it('calls: the history as a table, newest first, with filters; a day is one in the company time zone', async () => {
    const own = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db'), ZHEDEL_TZ: 'Asia/Almaty' };
    const db = openDb(own.ZHEDEL_DB);
    const ins = db.prepare(`INSERT INTO calls (id, direction, purpose, phone, object_code, started_at, answered_at, ended_at, outcome, actions, event_id, round)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    ins.run('ch-1', 'in', 'client', '+77015551234', '4021', '2026-03-01T04:00:00.000Z', '2026-03-01T04:00:01.000Z', '2026-03-01T04:00:45.000Z', 'goodbye',
      JSON.stringify(['status 4021: armed', 'disarm 4021: done']), null, null);
    ins.run('co-1', 'out', 'alarm', '+77051112233', '4021', '2026-03-02T10:00:00.000Z', null, '2026-03-02T10:00:31.000Z', 'no-answer', '[]', 7, 2);
    ins.run('ch-2', 'in', 'client', '12345', null, '2026-03-03T10:00:00.000Z', '2026-03-03T10:00:01.000Z', null, null, '[]', null, null);
    db.close();
    const lines = (await ok(['calls'], own)).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s*3\s+03\.03 15:00\s+in\s+client\s+12345\s+object=-\s+unfinished$/);
    expect(lines[1]).toMatch(/out\s+alarm\s+\+77051112233\s+object=4021\s+event=7 round=2\s+no-answer \(31 s, not answered\)/);
    expect(lines[2]).toMatch(/01\.03 09:00\s+in\s+client\s+\+77015551234\s+object=4021\s+goodbye \(45 s\)\s+status 4021: armed; disarm 4021: done$/);
    type Call = { id: string };
    expect((await json<Call[]>(['calls', '--object', '4021'], own)).map((c) => c.id)).toEqual(['co-1', 'ch-1']);
    expect((await json<Call[]>(['calls', '--phone', '8 701 555 12 34'], own)).map((c) => c.id)).toEqual(['ch-1']);
    expect((await json<Call[]>(['calls', '--purpose', 'alarm'], own)).map((c) => c.id)).toEqual(['co-1']);
    // 2 March starts at 19:00 UTC on 1 March in Almaty
    expect((await json<Call[]>(['calls', '--from', '2026-03-02'], own)).map((c) => c.id)).toEqual(['ch-2', 'co-1']);
    expect((await json<Call[]>(['calls', '--from', '2026-03-01T19:00:00Z', '--until', '2026-03-03'], own)).map((c) => c.id)).toEqual(['co-1']);
    const page = await ok(['calls', '--limit', '1'], own);
    expect(page).toContain('older calls: --before 3');
    expect((await json<Call[]>(['calls', '--before', '3', '--limit', '1'], own)).map((c) => c.id)).toEqual(['co-1']);
    for (const [args, code] of [[['--from', 'yesterday'], 'BAD_INPUT'], [['--phone', '123'], 'BAD_PHONE'], [['--purpose', 'spam'], 'BAD_INPUT'], [['--limit', '0'], 'BAD_INPUT']] as const) {
      const bad = await zhedel(['calls', ...args], own);
      expect([bad.code, bad.stderr], args.join(' ')).toEqual([1, expect.stringContaining(code)]);
    }
  }, 180_000);

  it('event: a time far ahead is replaced by the receive time, and the next alarm goes out', async () => {
    const own = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db') };
    const client = await json<{ id: number }>(['client', 'add', '--name', 'Panel Test'], own);
    await ok(['object', 'add', '--client', String(client.id), '--code', '5050', '--address', 'Алматы'], own);
    const t0 = Date.now();
    const arm = await json<{ row: { eventAt: string; result: string } }>(['event', '--object', '5050', '--type', 'arm', '--at', '9999-12-31T23:59:59Z'], own);
    expect(Date.parse(arm.row.eventAt)).toBeGreaterThanOrEqual(t0 - 1_000);
    expect(Date.parse(arm.row.eventAt)).toBeLessThanOrEqual(Date.now());
    expect(await ok(['event', '--object', '5050', '--type', 'alarm', '--kind', 'fire'], own)).toContain('event recorded: alarm');
  }, 180_000);

  it('duress code: set only with --signed, checked, shown only as set or not, cleared; journalled without the code', async () => {
    const own = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db') };
    const client = await json<{ id: number }>(['client', 'add', '--name', 'Duress Test'], own);
    const id = String(client.id);
    const refused: Array<[string[], number, RegExp]> = [
      [['duress', 'set', '--client', id, '--code', '5827'], 1, /BAD_INPUT: .*signed application/],
      [['duress', 'set', '--client', id, '--code', '5555', '--signed'], 1, /BAD_INPUT: .*all its digits are the same/],
      [['duress', 'set', '--client', id, '--code', '123', '--signed'], 1, /BAD_INPUT: .*4 to 8 digits/],
      [['duress', 'set', '--client', '999', '--code', '5827', '--signed'], 1, /CLIENT_NOT_FOUND/],
      [['duress', 'set', '--client', id, '--signed'], 2, /--code is required/],
      [['duress', 'forget', '--client', id], 2, /expected set, clear or show/],
    ];
    for (const [args, code, re] of refused) {
      const r = await zhedel(args, own);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toContain('5827');
      expect(r.stderr).not.toContain('5555');
    }
    expect(await json(['duress', 'show', '--client', id], own)).toEqual({ set: false, since: null });
    expect(await ok(['duress', 'set', '--client', id, '--code', '5827', '--signed', '--operator', 'Aigerim'], own)).toMatch(new RegExp(`client ${id}: a duress code is set since \\d\\d\\.\\d\\d \\d\\d:\\d\\d`));
    const shown = await json<{ set: boolean; since: string }>(['duress', 'show', '--client', id], own);
    expect(shown).toEqual({ set: true, since: expect.any(String) });
    const journal = await ok(['journal', '--client', id, '--json'], own);
    expect(journal).toContain('duress-set');
    expect(journal).toContain('Aigerim');
    expect(journal).not.toContain('5827');
    const db = openDb(own.ZHEDEL_DB, { migrate: false, readonly: true });
    const rows = db.prepare('SELECT hex(code_hash) AS h, set_at FROM duress_codes').all() as Array<{ h: string; set_at: string }>;
    db.close();
    expect(rows).toEqual([{ h: expect.stringMatching(/^[0-9A-F]{64}$/), set_at: shown.since }]);
    expect(await ok(['duress', 'clear', '--client', id], own)).toBe(`client ${id}: no duress code\n`);
    expect(await json(['duress', 'show', '--client', id], own)).toEqual({ set: false, since: null });
  }, 120_000);

  it('a bad environment value stops it with the variable named', async () => {
    const r = await zhedel(['status'], { ...env, ZHEDEL_TZ: 'Nowhere/Land' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('ZHEDEL_TZ');
  });
});
