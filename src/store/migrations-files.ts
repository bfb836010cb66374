import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One schema migration: `NNN-name.sql`, applied in the order of its number. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations in `dir` (either engine's folder), in order. */
export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}-[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}
