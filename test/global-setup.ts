import { ensureBuilt, ensureChromium, postgresForTests } from '../scripts/test-prereqs.mjs';

/**
 * Runs once before the suite: dist/ up to date, headless Chromium present (or one clear error),
 * and a PostgreSQL server for the PostgreSQL tests in ZHEDEL_TEST_PG — the one given there, or
 * a throw-away cluster started here and stopped by the returned teardown. Test processes are
 * forked after this runs and inherit process.env.
 */
export default async function setup(): Promise<() => void> {
  await ensureBuilt();
  ensureChromium();
  const pg = await postgresForTests();
  if (pg) process.env.ZHEDEL_TEST_PG = pg.url;
  return () => pg?.stop();
}
