import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/core-fixture.ts';
import { zhedel } from '../support/cli.ts';
import { createTestDatabase, pgUrl } from '../support/pg.ts';

/**
 * `zhedel migrate`: a SQLite database used through the command line is copied into a new
 * PostgreSQL database, which the command line then uses as it used the file.
 */

const url = pgUrl();
const required = !['', '0', 'false'].includes((process.env.ZHEDEL_REQUIRE_PG ?? '').toLowerCase());
const SECRET = 'migrate-test-secret-'.repeat(3);

describe.runIf(url !== undefined || required)('zhedel migrate (SQLite → PostgreSQL)', () => {
  beforeAll(() => {
    if (!url) throw new Error('ZHEDEL_REQUIRE_PG is set but ZHEDEL_TEST_PG is not: no PostgreSQL server for the tests');
  });

  it('copies everything with the journal\'s hashes, refuses a non-empty target, and changes nothing when run again', async () => {
    const file = { ZHEDEL_DB: join(tempDir(), 'data', 'zhedel.db'), ZHEDEL_SECRET: SECRET };
    const run = async (args: string[], env: Record<string, string>, code = 0): Promise<string> => {
      const r = await zhedel(args, env, 60_000);
      if (r.code !== code) throw new Error(`zhedel ${args.join(' ')} exited ${r.code} (expected ${code}): ${r.stdout}${r.stderr}`);
      return r.stdout + r.stderr;
    };
    const json = async <T>(args: string[], env: Record<string, string>): Promise<T> => JSON.parse(await run([...args, '--json'], env)) as T;

    // a small company on SQLite: two clients, objects, numbers, an arm, a payment
    const a = await json<{ id: number }>(['client', 'add', '--name', 'Асель', '--lang', 'kk', '--balance', '1500'], file);
    await run(['object', 'add', '--client', String(a.id), '--code', '4021', '--address', 'Алматы, Достык 5', '--callout'], file);
    await run(['number', 'add', '--client', String(a.id), '--phone', '87015551234', '--signed'], file);
    await run(['arm', '--object', '4021'], file);
    const b = await json<{ id: number }>(['client', 'add', '--name', 'ТОО Береке'], file);
    await run(['object', 'add', '--client', String(b.id), '--code', '7001', '--address', 'Астана'], file);
    await run(['pay', '--client', String(b.id), '--amount', '250.50', '--ref', 'kaspi-1'], file);
    const before = await json<{ ok: boolean; checked: number; headHash: string }>(['journal', '--verify'], file);
    expect(before.ok).toBe(true);

    const target = await createTestDatabase();
    const other = await createTestDatabase();
    try {
      const pgEnv = { ZHEDEL_DB: target.url, ZHEDEL_SECRET: SECRET };
      const copied = await json<{ outcome: string; rows: Record<string, number>; journal: { ok: boolean; checked: number; headHash: string } }>(
        ['migrate', '--from', file.ZHEDEL_DB, '--to', target.url], file);
      expect(copied.outcome).toBe('copied');
      expect(copied.rows.clients).toBe(2);
      expect(copied.rows.journal).toBe(before.checked);
      // the same chain, ending in the same hash
      expect(copied.journal).toMatchObject({ ok: true, checked: before.checked, headHash: before.headHash });
      const after = await json<{ ok: boolean; headHash: string }>(['journal', '--verify'], pgEnv);
      expect(after).toMatchObject({ ok: true, headHash: before.headHash });

      // the copy is the company's database now: what was there is there, new rows follow the copied ids
      expect(await run(['status', '--object', '4021'], pgEnv)).toMatch(/4021\s+armed/);
      expect(await run(['identify', '--phone', '87015551234'], pgEnv)).toContain('Асель');
      const c = await json<{ id: number }>(['client', 'add', '--name', 'Новый'], pgEnv);
      expect(c.id).toBe(b.id + 1);
      // the ledger came with its references: a payment recorded before is known
      expect(await run(['pay', '--client', String(b.id), '--amount', '250.50', '--ref', 'kaspi-1'], pgEnv)).toContain('payment kaspi-1 was already recorded; balance 250.50 KZT');

      // a target with rows of its own is refused, and left as it was
      const refused = await zhedel(['migrate', '--from', file.ZHEDEL_DB, '--to', target.url], file, 60_000);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/copy into a new, empty database/);
      expect(await run(['client', 'list'], pgEnv)).toContain('Новый');

      // a finished copy run again (the same source, an untouched target) changes nothing
      const second = await json<{ outcome: string }>(['migrate', '--from', file.ZHEDEL_DB, '--to', other.url], file);
      expect(second.outcome).toBe('copied');
      const again = await json<{ outcome: string; journal: { ok: boolean } }>(['migrate', '--from', file.ZHEDEL_DB, '--to', other.url], file);
      expect(again).toMatchObject({ outcome: 'already', journal: { ok: true } });
      // but once the source moved on, the old copy is not taken for it
      await run(['disarm', '--object', '4021'], file);
      const stale = await zhedel(['migrate', '--from', file.ZHEDEL_DB, '--to', other.url], file, 60_000);
      expect(stale.code).toBe(1);
      expect(stale.stderr).toMatch(/copy of another database, or of this one before it changed/);

      // a target that is not PostgreSQL, or a source that does not exist: clear errors
      expect((await zhedel(['migrate', '--from', file.ZHEDEL_DB, '--to', '/tmp/x.db'], file)).stderr).toMatch(/--to must be a postgres:\/\/ URL/);
      expect((await zhedel(['migrate', '--from', join(tempDir(), 'none.db'), '--to', other.url], file)).stderr).toMatch(/no file/);
    } finally {
      await target.drop();
      await other.drop();
    }
  }, 120_000);
});
