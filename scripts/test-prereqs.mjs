#!/usr/bin/env node
// What the test suite needs besides npm packages, made ready before any test runs:
//  - dist/ compiled from the current sources (the tests run the real `zhedel` binary, which
//    runs dist/); one build at a time, so that two suites started together do not collide;
//  - headless Chromium from Debian for the browser test. When it is missing and this user may
//    install packages (root, or sudo without a password), it is installed with apt-get
//    (`apt-get install chromium`); otherwise this stops with one line saying what to install.
//  - a PostgreSQL server for the PostgreSQL tests, as the URL of an admin database in
//    ZHEDEL_TEST_PG (the tests create one database per test file). A URL already given is
//    checked and used; otherwise, when the server programs (initdb, pg_ctl) are installed —
//    or can be, as for Chromium (`apt-get install postgresql`) —, the global setup starts a
//    throw-away cluster in a temporary folder on a free port and removes it at the end. With
//    neither, one message says which tests are skipped and how to run them; with
//    ZHEDEL_REQUIRE_PG=1 (CI) the run fails instead.
// Used by the test runner's global setup; `node scripts/test-prereqs.mjs` runs it by hand
// (there it checks for the server programs or the given server, and starts nothing).
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
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

/** `apt-get update`, then `apt-get install <pkg>`, as root or through sudo (`prefix`). */
function aptInstall(prefix, pkg) {
  const run = (args) => {
    const [cmd, ...rest] = [...prefix, ...args];
    const r = spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`"${[...prefix, ...args].join(' ')}" failed: install Debian's ${pkg} by hand`);
  };
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', pkg]);
}

export function ensureChromium() {
  const path = chromiumPath();
  if (existsSync(path)) return;
  const prefix = mayInstall();
  if (path !== '/usr/bin/chromium' || prefix === null) {
    throw new Error(`the browser test needs headless Chromium at ${path}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  process.stderr.write("Chromium is missing: installing Debian's chromium package with apt-get for the browser test\n");
  aptInstall(prefix, 'chromium');
  if (!existsSync(path)) throw new Error(`chromium was installed but ${path} is missing`);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_TESTS = "the contract suite's PostgreSQL half (test/contract/), test/integration/pg-*.test.ts, test/integration/migrate-pg.test.ts and the two-instance tests (test/e2e/instances-pg.test.ts)";
const PG_HOWTO = 'install the server (apt-get install postgresql) and the tests start a throw-away cluster of their own, '
  + 'or point them at a server: ZHEDEL_TEST_PG=postgres://user@host:port/db npm test';

/** ZHEDEL_REQUIRE_PG=1 (CI): a PostgreSQL server is required; without one the run fails. */
export function postgresRequired() {
  const v = process.env.ZHEDEL_REQUIRE_PG ?? '';
  return v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * The server programs initdb and pg_ctl: from ZHEDEL_PG_BIN when set (and only there), else the
 * newest Debian /usr/lib/postgresql/<major>/bin, else `pg_config --bindir`, else PATH; or null.
 */
export function findPostgresPrograms() {
  const inDir = (dir) => (dir && isExecutable(join(dir, 'initdb')) && isExecutable(join(dir, 'pg_ctl'))
    ? { initdb: join(dir, 'initdb'), pgCtl: join(dir, 'pg_ctl') }
    : null);
  if (process.env.ZHEDEL_PG_BIN) return inDir(process.env.ZHEDEL_PG_BIN);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of majors) {
      const found = inDir(join(debian, v, 'bin'));
      if (found) return found;
    }
  }
  const config = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const fromConfig = config.status === 0 ? inDir(config.stdout.trim()) : null;
  if (fromConfig) return fromConfig;
  const initdb = onPath('initdb');
  const pgCtl = onPath('pg_ctl');
  return initdb && pgCtl ? { initdb, pgCtl } : null;
}

/** The URL with its password masked, for messages. */
function shown(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a URL that does not parse)';
  }
}

/** The server's version (`SHOW server_version`), or an error saying the server does not answer. */
async function serverVersion(url, what) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  try {
    await client.connect();
    const r = await client.query('SHOW server_version');
    return String(r.rows[0].server_version);
  } catch (e) {
    throw new Error(`${what} (${shown(url)}) does not answer: ${e.message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The server programs, installed from Debian when missing and this user may (as Chromium is);
 * null when they are missing: then one message says which tests are skipped, or, with
 * ZHEDEL_REQUIRE_PG=1, this throws.
 */
export function ensurePostgresPrograms() {
  let found = findPostgresPrograms();
  if (found) return found;
  const prefix = process.env.ZHEDEL_PG_BIN ? null : mayInstall();
  if (prefix !== null) {
    process.stderr.write("The PostgreSQL server is missing: installing Debian's postgresql package with apt-get for the PostgreSQL tests\n");
    aptInstall(prefix, 'postgresql');
    found = findPostgresPrograms();
    if (found) return found;
    throw new Error('postgresql was installed but initdb and pg_ctl are not found (/usr/lib/postgresql/*/bin, pg_config --bindir, PATH)');
  }
  const where = process.env.ZHEDEL_PG_BIN ? `in ZHEDEL_PG_BIN (${process.env.ZHEDEL_PG_BIN})` : '(/usr/lib/postgresql/*/bin, pg_config --bindir, PATH)';
  const missing = `no PostgreSQL server programs (initdb, pg_ctl) ${where} and ZHEDEL_TEST_PG is not set`;
  // one message, at the start of the run
  if (postgresRequired()) {
    throw new Error(`ZHEDEL_REQUIRE_PG is set, but there are ${missing}: ${PG_TESTS} cannot run. To run them: ${PG_HOWTO}.`);
  }
  process.stderr.write(`PostgreSQL tests skipped: there are ${missing}. Skipped: ${PG_TESTS}. To run them: ${PG_HOWTO}.\n`);
  return null;
}

/** A shell word. */
const quoted = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * How to run the server programs: as this user, or — the server refuses to run as root — as
 * the `postgres` system user when this is root.
 */
function serverUser() {
  if (process.getuid?.() !== 0) return { owner: null, command: (cmd, args) => [cmd, args] };
  const id = (flag) => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : null;
  };
  const uid = id('-u');
  const gid = id('-g');
  if (uid === null || gid === null) {
    throw new Error('running as root, and the PostgreSQL server does not run as root: it runs as the postgres system user, which is missing '
      + "(Debian's postgresql package creates it); or set ZHEDEL_TEST_PG to a server's URL");
  }
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser'].find(isExecutable) ?? onPath('runuser');
  return {
    owner: { uid, gid },
    command: runuser
      ? (cmd, args) => [runuser, ['-u', 'postgres', '--', cmd, ...args]]
      : (cmd, args) => ['su', ['postgres', '-s', '/bin/sh', '-c', [cmd, ...args].map(quoted).join(' ')]],
  };
}

function runServerProgram(user, cwd, cmd, args) {
  const [file, argv] = user.command(cmd, args);
  return spawnSync(file, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Stops a throw-away cluster (immediate shutdown) and removes its folder. Synchronous, so that
 * it also runs from an exit handler. `cluster` is { dir, pgCtl }.
 */
export function stopCluster(cluster) {
  const data = join(cluster.dir, 'data');
  const pidFile = join(data, 'postmaster.pid');
  if (existsSync(pidFile)) {
    let stopped = false;
    try {
      stopped = runServerProgram(serverUser(), cluster.dir, cluster.pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '60']).status === 0;
    } catch {
      stopped = false;
    }
    if (!stopped) {
      // pg_ctl could not do it: SIGQUIT is the immediate shutdown
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      try {
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
  }
  rmSync(cluster.dir, { recursive: true, force: true });
}

/**
 * A process of its own that outlives this one and stops the cluster when this one ends without
 * stopping it (killed, even with SIGKILL): it waits for the end of its stdin, a pipe from here.
 */
function startGuard(cluster) {
  const guard = spawn(process.execPath, [join(root, 'scripts', 'pg-cluster-guard.mjs'), JSON.stringify(cluster)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  guard.on('error', () => {});
  guard.stdin.on('error', () => {});
  guard.unref();
  guard.stdin.unref();
  return guard;
}

/**
 * Starts a throw-away PostgreSQL cluster: initdb (trust authentication, superuser postgres) in
 * a new temporary folder, then the server on a free port of 127.0.0.1 with its socket in that
 * folder. fsync is off — nothing in it must survive a crash of the machine — unless
 * `options.settings` says otherwise: server settings (`-c name=value`) that override the
 * defaults (fsync=off, max_connections=200), e.g. { fsync: 'on' } for durable commits. Returns
 * { url, version, stop }; stop() is synchronous and idempotent. The cluster is also stopped when
 * this process exits or is killed.
 */
export async function startCluster(programs, options = {}) {
  const settings = { fsync: 'off', max_connections: '200', ...options.settings };
  for (const name of Object.keys(settings)) {
    if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw new Error(`not a server setting's name: ${name}`);
  }
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'zhedel-pg-'));
  if (user.owner) chownSync(dir, user.owner.uid, user.owner.gid);
  const cluster = { dir, pgCtl: programs.pgCtl };
  const guard = startGuard(cluster);
  let stopped = false;
  const onExit = () => stop();
  const onSignal = (signal) => {
    stop();
    // nobody else handles it: end the way the signal would have
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  function stop() {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    for (const s of signals) process.off(s, onSignal);
    try {
      stopCluster(cluster);
    } finally {
      guard.stdin.end();
    }
  }
  process.on('exit', onExit);
  for (const s of signals) process.once(s, onSignal);

  try {
    const data = join(dir, 'data');
    const locale = process.platform === 'linux' ? 'C.UTF-8' : 'C';
    const init = runServerProgram(user, dir, programs.initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', `--locale=${locale}`, '--no-sync']);
    if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}${init.stderr}`);
    const log = join(dir, 'server.log');
    // another suite on this machine may take the port between the check and the bind: try again
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const serverOptions = [`-p ${port}`, `-k ${quoted(dir)}`, '-c listen_addresses=127.0.0.1',
        ...Object.entries(settings).map(([name, value]) => `-c ${quoted(`${name}=${value}`)}`)].join(' ');
      const start = runServerProgram(user, dir, programs.pgCtl, ['start', '-w', '-t', '120', '-D', data, '-l', log, '-o', serverOptions]);
      if (start.status === 0) {
        const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
        const version = await serverVersion(url, 'the throw-away PostgreSQL cluster');
        // for tests of a database that goes away and comes back: the same server, port and data
        const down = () => {
          const r = runServerProgram(user, dir, programs.pgCtl, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60']);
          if (r.status !== 0) throw new Error(`pg_ctl stop failed:\n${r.stdout}${r.stderr}`);
        };
        const up = () => {
          const r = runServerProgram(user, dir, programs.pgCtl, ['start', '-w', '-t', '120', '-D', data, '-l', log, '-o', serverOptions]);
          if (r.status !== 0) throw new Error(`pg_ctl start failed:\n${r.stdout}${r.stderr}`);
        };
        return { url, version, stop, down, up };
      }
      const said = existsSync(log) ? readFileSync(log, 'utf8') : '';
      if (attempt < 5 && /could not bind|could not create any TCP\/IP sockets|already in use/i.test(said)) continue;
      throw new Error(`pg_ctl start failed:\n${start.stdout}${start.stderr}${said.split('\n').slice(-20).join('\n')}`);
    }
  } catch (e) {
    stop();
    throw e;
  }
}

/**
 * For the test runner's global setup: the PostgreSQL server the tests use, as
 * { url, version, stop } — the one ZHEDEL_TEST_PG names (checked; stop does nothing), or a
 * throw-away cluster started here — or null when there is none (the message is printed).
 */
export async function postgresForTests() {
  const given = process.env.ZHEDEL_TEST_PG;
  if (given) {
    const version = await serverVersion(given, 'the PostgreSQL server in ZHEDEL_TEST_PG');
    process.stderr.write(`PostgreSQL ${version} for the tests: the server in ZHEDEL_TEST_PG (${shown(given)})\n`);
    return { url: given, version, stop: () => {} };
  }
  const programs = ensurePostgresPrograms();
  if (!programs) return null;
  const cluster = await startCluster(programs);
  process.stderr.write(`PostgreSQL ${cluster.version} for the tests: a throw-away cluster at ${cluster.url} (${dirname(programs.pgCtl)})\n`);
  return cluster;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await ensureBuilt();
    ensureChromium();
    if (process.env.ZHEDEL_TEST_PG) {
      const version = await serverVersion(process.env.ZHEDEL_TEST_PG, 'the PostgreSQL server in ZHEDEL_TEST_PG');
      process.stderr.write(`PostgreSQL ${version} for the tests: the server in ZHEDEL_TEST_PG (${shown(process.env.ZHEDEL_TEST_PG)})\n`);
    } else {
      ensurePostgresPrograms();
    }
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
