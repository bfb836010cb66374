import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The PostgreSQL server the PostgreSQL tests get in ZHEDEL_TEST_PG (test/global-setup.ts): new
 * enough, and the admin database may create and drop databases, which is how every test file
 * gets a database of its own.
 */
const url = process.env.ZHEDEL_TEST_PG;
const required = !['', '0', 'false'].includes((process.env.ZHEDEL_REQUIRE_PG ?? '').toLowerCase());

async function withClient<T>(connectionString: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// Skipped when there is no server, unless ZHEDEL_REQUIRE_PG is set: then it fails (the global
// setup already fails the run in that case; this keeps the file from passing as skipped if it
// ever runs without it).
describe.runIf(url !== undefined || required)('the PostgreSQL server for the tests', () => {
  const admin = url ?? '';

  beforeAll(() => {
    if (!url) throw new Error('ZHEDEL_REQUIRE_PG is set but ZHEDEL_TEST_PG is not: no PostgreSQL server for the tests');
  });

  it('is PostgreSQL 13 or newer', async () => {
    const version = await withClient(admin, async (c) => String((await c.query('SHOW server_version')).rows[0].server_version));
    expect(version).toMatch(/^\d+/);
    expect(Number.parseInt(version, 10)).toBeGreaterThanOrEqual(13);
  });

  it('creates a database, connects to it and drops it', async () => {
    const name = `zhedel_check_${process.pid}_${randomBytes(4).toString('hex')}`;
    await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
    try {
      const there = new URL(admin);
      there.pathname = `/${name}`;
      const current = await withClient(there.toString(), async (c) => {
        await c.query('CREATE TABLE t (x int)');
        await c.query('INSERT INTO t VALUES (1), (2)');
        return { db: String((await c.query('SELECT current_database() AS db')).rows[0].db), n: Number((await c.query('SELECT count(*) AS n FROM t')).rows[0].n) };
      });
      expect(current).toEqual({ db: name, n: 2 });
    } finally {
      await withClient(admin, (c) => c.query(`DROP DATABASE ${name}`));
    }
    const left = await withClient(admin, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount);
    expect(left).toBe(0);
  });
});
