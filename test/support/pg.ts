import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * PostgreSQL for tests: `ZHEDEL_TEST_PG` is a URL to an administrative database on a server
 * (e.g. postgres://postgres@127.0.0.1:5432/postgres) whose user may create databases. Without
 * it the PostgreSQL tests do not run.
 */
export function pgUrl(): string | undefined {
  const url = process.env.ZHEDEL_TEST_PG?.trim();
  return url ? url : undefined;
}

/** Runs `fn` on a connection of its own to the test server's admin database. */
function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const url = pgUrl();
  if (!url) return Promise.reject(new Error('ZHEDEL_TEST_PG is not set'));
  return withConnection(url, fn);
}

/** The URL of `database` on the test server (the admin URL with another path). */
export function databaseUrl(database: string): string {
  const u = new URL(pgUrl() ?? '');
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A new, empty database with a unique name on the test server; `drop()` removes it, ending
 * any connection still open to it.
 */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `zhedel_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`));
  let dropped = false;
  return {
    name,
    url: databaseUrl(name),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Runs `fn` on a connection of its own to `url`, then closes it. */
export async function withConnection<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
