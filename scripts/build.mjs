#!/usr/bin/env node
// Compiles the service into dist/ (tsc, incremental) and copies what the compiled code reads
// at run time beside it: the SQL migrations (SQLite's and PostgreSQL's) and the web pages. Voice prompts and their
// manifest stay in prompts/ at the package root, where both the sources and dist/ find them.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) process.exit(r.status ?? 1);
for (const dir of ['store/migrations', 'store/migrations-pg', 'http/pages']) {
  rmSync(join(root, 'dist', dir), { recursive: true, force: true });
  mkdirSync(join(root, 'dist', dir), { recursive: true });
  cpSync(join(root, 'src', dir), join(root, 'dist', dir), { recursive: true });
}
