import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The service and the command line run the compiled JavaScript in dist/ (built by the test
 * setup, as by `npm ci`), and a command loads only what it needs.
 */
const dir = mkdtempSync(join(tmpdir(), 'zhedel-compiled-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function traced(args: string[], name: string): Promise<{ code: number | null; stdout: string; loaded: string[] }> {
  const trace = join(dir, `${name}.trace`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', './test/support/trace-imports.mjs', 'bin/zhedel.js', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ZHEDEL_DB: join(dir, 'z.db'), ZHEDEL_TRACE_IMPORTS: trace },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      let loaded: string[] = [];
      try {
        loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
      } catch {
        // nothing was resolved
      }
      resolve({ code, stdout, loaded });
    });
  });
}

const packagesOf = (urls: string[]): Set<string> =>
  new Set(urls.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]).filter((p): p is string => p !== undefined));

describe('the compiled service', () => {
  it('dist/ holds the migrations and the pages the compiled code reads', () => {
    expect(readdirSync('dist/store/migrations').sort()).toEqual(readdirSync('src/store/migrations').sort());
    expect(readdirSync('dist/store/migrations-pg').sort()).toEqual(readdirSync('src/store/migrations-pg').sort());
    expect(readdirSync('dist/http/pages').sort()).toEqual(readdirSync('src/http/pages').sort());
  });

  it('`zhedel help` loads no package and no TypeScript', async () => {
    const r = await traced(['--help'], 'help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: zhedel');
    expect([...packagesOf(r.loaded)]).toEqual([]);
    expect(r.loaded.filter((u) => u.endsWith('.ts'))).toEqual([]);
  });

  it('`zhedel status` runs dist/ and loads no HTTP, telephony, SMPP, scheduler, logger or TypeScript loader', async () => {
    const r = await traced(['status'], 'status');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no objects');
    expect(r.loaded.some((u) => u.includes('/dist/cli.js'))).toBe(true);
    expect(r.loaded.filter((u) => u.includes('/src/') || u.endsWith('.ts'))).toEqual([]);
    const pkgs = packagesOf(r.loaded);
    for (const heavy of ['fastify', 'ws', 'asterisk-manager', 'smpp', 'node-cron', 'pino', 'prom-client', 'tsx']) expect(pkgs.has(heavy), heavy).toBe(false);
    expect(pkgs.has('better-sqlite3')).toBe(true);
  });
});
