#!/usr/bin/env node
// What the test suite needs besides npm packages, made ready before any test runs:
//  - dist/ compiled from the current sources (the tests run the real `zhedel` binary, which
//    runs dist/); one build at a time, so that two suites started together do not collide;
//  - headless Chromium from Debian for the browser test. When it is missing and this user may
//    install packages (root, or sudo without a password), it is installed with apt-get
//    (`apt-get install chromium`); otherwise this stops with one line saying what to install.
// Used by the test runner's global setup; `node scripts/test-prereqs.mjs` runs it by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const chromiumPath = () => process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function isStale() {
  const info = join(root, 'dist', '.tsbuildinfo');
  if (!existsSync(info) || !existsSync(join(root, 'dist', 'cli.js'))) return true;
  const built = statSync(info).mtimeMs;
  return ['src', 'types'].some((d) => newestSource(join(root, d)) > built)
    || ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'].some((f) => statSync(join(root, f)).mtimeMs > built);
}

async function withLock(fn) {
  const lock = join(root, 'dist.lock');
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      // a build that died leaves its lock behind; no build takes ten minutes
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() - started > 900_000) throw new Error('waited 15 minutes for another build (dist.lock)');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function ensureBuilt() {
  await withLock(() => {
    if (!isStale()) return;
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
    if (r.status !== 0) throw new Error('the build failed (npm run build)');
  });
}

function mayInstall() {
  if (!existsSync('/usr/bin/apt-get')) return null;
  if (process.getuid?.() === 0) return [];
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? ['sudo', '-n'] : null;
}

export function ensureChromium() {
  const path = chromiumPath();
  if (existsSync(path)) return;
  const prefix = mayInstall();
  if (path !== '/usr/bin/chromium' || prefix === null) {
    throw new Error(`the browser test needs headless Chromium at ${path}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  process.stderr.write("Chromium is missing: installing Debian's chromium package with apt-get for the browser test\n");
  const run = (args) => {
    const [cmd, ...rest] = [...prefix, ...args];
    const r = spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`"${[...prefix, ...args].join(' ')}" failed: install Debian's chromium by hand`);
  };
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium']);
  if (!existsSync(path)) throw new Error(`chromium was installed but ${path} is missing`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await ensureBuilt();
    ensureChromium();
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
