import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db } from './db.ts';

/**
 * Moving over from SQLite to PostgreSQL: copies every table of a SQLite database into a
 * migrated, empty PostgreSQL database of the same schema, in one PostgreSQL transaction (a
 * failed or interrupted copy leaves the target as it was, so it can simply be run again).
 *
 * Rows keep their ids and the journal keeps its hashes, so the copy's journal verifies. The
 * catalogue a new database is created with (services, tariffs) is replaced by the source's.
 * Any other row in the target refuses the copy, except a finished copy of this very source:
 * the target then carries a fingerprint of the source (row counts and the journal's head),
 * and running the copy again reports that and changes nothing.
 */

/** Tables a new database is seeded with: replaced by the source's rows. */
const CATALOGUE = new Set(['services', 'tariffs']);
/** Tables of the engines' own bookkeeping, never copied. */
const OWN = new Set(['schema_migrations']);
/** The setting that records a finished copy. */
export const COPY_MARK = 'store.copied-from';
/** Rows per INSERT statement (PostgreSQL allows 65,535 parameters per statement). */
const BATCH = 500;

export interface CopyResult {
  /** 'copied' now, or 'already' (a finished copy of the same source was found). */
  outcome: 'copied' | 'already';
  /** Rows per table in the source. */
  rows: Record<string, number>;
  fingerprint: string;
}

export class CopyRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRefused';
  }
}

interface Table {
  name: string;
  columns: string[];
  parents: string[];
}

function q(id: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(id)) throw new Error(`unexpected identifier ${id}`);
  return `"${id}"`;
}

/** The source's tables, parents before children (by their foreign keys). */
function sourceTables(src: Db): Table[] {
  const names = (src.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>)
    .map((r) => r.name).filter((n) => !OWN.has(n));
  const tables = new Map<string, Table>();
  for (const name of names) {
    const columns = (src.prepare(`PRAGMA table_info(${q(name)})`).all() as Array<{ name: string }>).map((c) => c.name);
    const parents = (src.prepare(`PRAGMA foreign_key_list(${q(name)})`).all() as Array<{ table: string }>).map((f) => f.table).filter((t) => t !== name);
    tables.set(name, { name, columns, parents });
  }
  const ordered: Table[] = [];
  const seen = new Set<string>();
  const visit = (t: Table, path: string[]): void => {
    if (seen.has(t.name)) return;
    if (path.includes(t.name)) throw new Error(`foreign keys form a cycle: ${[...path, t.name].join(' → ')}`);
    for (const p of t.parents) {
      const parent = tables.get(p);
      if (parent) visit(parent, [...path, t.name]);
    }
    seen.add(t.name);
    ordered.push(t);
  };
  for (const t of tables.values()) visit(t, []);
  return ordered;
}

/** Row counts and the journal's head: what a finished copy of this source carries. */
function fingerprintOf(src: Db, tables: Table[]): { rows: Record<string, number>; fingerprint: string } {
  const rows: Record<string, number> = {};
  for (const t of tables) rows[t.name] = (src.prepare(`SELECT count(*) AS n FROM ${q(t.name)}`).get() as { n: number }).n;
  const head = tables.some((t) => t.name === 'journal')
    ? (src.prepare('SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined)
    : undefined;
  const fingerprint = createHash('sha256').update(JSON.stringify({ rows, head: head ?? null })).digest('hex');
  return { rows, fingerprint };
}

/**
 * Copies `src` (a SQLite database at the current schema, which nothing writes meanwhile)
 * into the PostgreSQL database at `targetUrl` (already migrated to the current schema).
 */
export async function copySqliteToPostgres(src: Db, targetUrl: string): Promise<CopyResult> {
  const tables = sourceTables(src);
  const { rows, fingerprint } = fingerprintOf(src, tables);
  const client = new pg.Client({ connectionString: targetUrl });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    try {
      const targetColumns = new Map<string, Set<string>>();
      const cols = await client.query<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()");
      for (const r of cols.rows) {
        const set = targetColumns.get(r.table_name) ?? new Set<string>();
        set.add(r.column_name);
        targetColumns.set(r.table_name, set);
      }
      for (const t of tables) {
        const have = targetColumns.get(t.name);
        if (!have) throw new CopyRefused(`the target has no table ${t.name}: is it at the same schema version as the source?`);
        const missing = t.columns.filter((c) => !have.has(c));
        if (missing.length) throw new CopyRefused(`the target's ${t.name} lacks ${missing.join(', ')}: is it at the same schema version?`);
      }
      // refuse a target that holds anything but its own catalogue (or a finished copy of this source)
      const nonEmpty: string[] = [];
      for (const t of tables) {
        if (CATALOGUE.has(t.name)) continue;
        const r = await client.query(`SELECT 1 FROM ${q(t.name)} LIMIT 1`);
        if (r.rowCount) nonEmpty.push(t.name);
      }
      if (nonEmpty.length) {
        const mark = await client.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [COPY_MARK]);
        if (mark.rows[0]?.value === fingerprint) {
          // a copy of this very source; it counts as done only while the target is still as copied
          let same = true;
          for (const t of tables) {
            if (CATALOGUE.has(t.name)) continue;
            const n = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${q(t.name)}`)).rows[0]?.n ?? 0);
            // settings hold the copy's own mark besides the source's rows
            if (n !== (rows[t.name] ?? 0) + (t.name === 'settings' ? 1 : 0)) same = false;
          }
          await client.query('ROLLBACK');
          if (same) return { outcome: 'already', rows, fingerprint };
          throw new CopyRefused('the target holds a copy of this database that has been used since; copy into a new, empty database');
        }
        throw new CopyRefused(mark.rows[0]
          ? 'the target holds a copy of another database, or of this one before it changed; copy into a new, empty database'
          : `the target is not empty (${nonEmpty.join(', ')}); copy into a new, empty database`);
      }
      // children of the catalogue first, then the catalogue itself
      for (const t of [...tables].reverse()) if (CATALOGUE.has(t.name)) await client.query(`DELETE FROM ${q(t.name)}`);
      for (const t of tables) await copyTable(src, client, t);
      await client.query(
        'INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
        [COPY_MARK, fingerprint, new Date().toISOString(), 'migrate']);
      // identity columns continue after the copied ids
      const identities = await client.query<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'");
      for (const r of identities.rows) {
        await client.query(`SELECT setval(pg_get_serial_sequence($1, $2), GREATEST((SELECT max(${q(r.column_name)}) FROM ${q(r.table_name)}), 1), (SELECT max(${q(r.column_name)}) FROM ${q(r.table_name)}) IS NOT NULL)`,
          [r.table_name, r.column_name]);
      }
      await client.query('COMMIT');
      return { outcome: 'copied', rows, fingerprint };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function copyTable(src: Db, client: pg.Client, t: Table): Promise<void> {
  const cols = t.columns.map(q).join(', ');
  let batch: unknown[][] = [];
  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    const params: unknown[] = [];
    const tuples = batch.map((row) => `(${row.map((v) => {
      params.push(v);
      return `$${params.length}`;
    }).join(', ')})`);
    await client.query(`INSERT INTO ${q(t.name)} (${cols}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}`, params);
    batch = [];
  };
  // rows in their order of insertion where the table has one (a WITHOUT ROWID table has none)
  const withoutRowid = (src.prepare('SELECT wr FROM pragma_table_list WHERE name = ?').get(t.name) as { wr: number } | undefined)?.wr === 1;
  const iter = src.prepare(`SELECT ${cols} FROM ${q(t.name)}${withoutRowid ? '' : ' ORDER BY rowid'}`).raw().iterate();
  for (const row of iter as Iterable<unknown[]>) {
    batch.push(row);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}
