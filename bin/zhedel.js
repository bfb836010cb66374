#!/usr/bin/env node
// The `zhedel` command: runs the compiled service (dist/, built by `npm run build`, which
// `npm ci` and `npm install` run by themselves).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('zhedel: the compiled service is missing (dist/cli.js): run "npm run build"\n');
  process.exit(78);
}
await import(entry.href);
