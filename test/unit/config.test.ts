import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { tempDir } from '../support/core-fixture.ts';
import { zhedel } from '../support/cli.ts';

describe('configuration', () => {
  it('has embedded defaults and generates a development secret once, mode 0600', () => {
    const dir = tempDir();
    const db = join(dir, 'sub', 'z.db');
    const c = loadConfig({ ZHEDEL_DB: db });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080, rateLimitPerMinute: 600, trustProxy: [] });
    expect(c.metricsToken).toBeNull();
    expect(c.timeZone).toBe('Asia/Almaty');
    expect(c.ari.app).toBe('zhedel');
    expect(c.smpp.url).toBe('smpp://127.0.0.1:2775');
    expect(c.secretSource).toBe('file');
    const file = join(dir, 'sub', 'secret');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(c.secret);
    expect(loadConfig({ ZHEDEL_DB: db }).secret).toBe(c.secret);
  });

  it('takes values from the environment', () => {
    const c = loadConfig({
      ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), ZHEDEL_HTTP_PORT: '9090', ZHEDEL_TZ: 'Asia/Aqtobe',
      ZHEDEL_SMPP_URL: 'ssmpp://smsc.example:3550', ZHEDEL_SMPP_TPS: '100', ZHEDEL_ARI_APP: 'robot',
    });
    expect(c.http.port).toBe(9090);
    expect(c.timeZone).toBe('Asia/Aqtobe');
    expect(c.smpp.url).toBe('ssmpp://smsc.example:3550');
    expect(c.smpp.tps).toBe(100);
    expect(c.ari.app).toBe('robot');
    expect(c.secretSource).toBe('env');
  });

  it.each([
    ['ZHEDEL_HTTP_PORT', '70000'],
    ['ZHEDEL_HTTP_PORT', 'abc'],
    ['ZHEDEL_TZ', 'Mars/Olympus'],
    ['ZHEDEL_LOG_LEVEL', 'loud'],
    ['ZHEDEL_SMPP_URL', 'http://smsc:2775'],
    ['ZHEDEL_ARI_URL', 'not a url'],
    ['ZHEDEL_SECRET', 'short'],
    ['ZHEDEL_CALLOUT_ENDPOINT', 'PJSIP/trunk'],
    ['ZHEDEL_DB', 'postgres://'],
    ['ZHEDEL_DB_POOL', '0'],
    ['ZHEDEL_DB_STATEMENT_TIMEOUT_MS', '10'],
  ])('names the bad variable %s=%s', (key, value) => {
    expect(() => loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), [key]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), [key]: value })).toThrow(key);
  });

  it("names the instance after the host and the ARI application unless ZHEDEL_INSTANCE says otherwise", () => {
    const base = { ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40) };
    expect(loadConfig({ ...base, ZHEDEL_ARI_APP: 'robot-2' }).instance).toBe(`${hostname().replace(/[^\w.-]/g, '-').slice(0, 60)}:robot-2`);
    expect(loadConfig({ ...base, ZHEDEL_INSTANCE: ' node-1.almaty ' }).instance).toBe('node-1.almaty');
    for (const bad of ['two words', 'x'.repeat(101), 'a/b']) {
      expect(() => loadConfig({ ...base, ZHEDEL_INSTANCE: bad })).toThrow('ZHEDEL_INSTANCE');
    }
  });

  it('takes a PostgreSQL URL as is, its pool settings, and never shows its password', () => {
    const url = 'postgresql://zhedel:p%40ss-word@db.example:5433/zhedel?sslmode=verify-full';
    const c = loadConfig({ ZHEDEL_DB: url, ZHEDEL_SECRET: 's'.repeat(40), ZHEDEL_DB_POOL: '20', ZHEDEL_DB_STATEMENT_TIMEOUT_MS: '3000' });
    expect(c.dbPath).toBe(url);
    expect(c.db).toEqual({ engine: 'postgres', poolSize: 20, statementTimeoutMs: 3000, label: 'postgresql://zhedel@db.example:5433/zhedel' });
    const sqlite = loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40) });
    expect(sqlite.db).toEqual({ engine: 'sqlite', poolSize: 10, statementTimeoutMs: 5000, label: ':memory:' });
    let message = '';
    try {
      loadConfig({ ZHEDEL_DB: 'postgres://user:secret-pw@/', ZHEDEL_SECRET: 's'.repeat(40) });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('ZHEDEL_DB');
    expect(message).not.toContain('secret-pw');
  });

  it('requires a shared secret with PostgreSQL: no development secret file', () => {
    expect(() => loadConfig({ ZHEDEL_DB: 'postgres://zhedel@db.example/zhedel' })).toThrow(/ZHEDEL_SECRET: required with a PostgreSQL database/);
    expect(loadConfig({ ZHEDEL_DB: 'postgres://zhedel@db.example/zhedel', ZHEDEL_SECRET: 's'.repeat(40) }).secretSource).toBe('env');
  });

  it('requires a secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', ZHEDEL_DB: join(tempDir(), 'z.db') })).toThrow('ZHEDEL_SECRET');
  });

  /** The shipped sample, as `set -a; . ./.env.example` would load it. */
  function example(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of readFileSync('.env.example', 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) env[m[1] as string] = m[2] as string;
    }
    return env;
  }

  it('refuses every placeholder of .env.example in production, naming each variable', () => {
    const env: Record<string, string | undefined> = { ...example(), ZHEDEL_DB: join(tempDir(), 'z.db') };
    expect(env.NODE_ENV).toBe('production');
    let message = '';
    try {
      loadConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    for (const name of ['ZHEDEL_SECRET', 'ZHEDEL_MONITORING_KEY', 'ZHEDEL_METRICS_TOKEN', 'ZHEDEL_ARI_PASSWORD', 'ZHEDEL_AMI_SECRET', 'ZHEDEL_SMPP_PASSWORD']) {
      expect(message).toContain(`${name}: still the placeholder`);
    }
    // the same values are accepted for a development run
    expect(loadConfig({ ...env, NODE_ENV: 'development' }).secret).toBe(env.ZHEDEL_SECRET);
  });

  it.each(['ZHEDEL_SECRET', 'ZHEDEL_MONITORING_KEY', 'ZHEDEL_METRICS_TOKEN'])('refuses %s shorter than 32 characters in production', (name) => {
    const good = { NODE_ENV: 'production', ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 'k'.repeat(40), ZHEDEL_MONITORING_KEY: 'm'.repeat(32), ZHEDEL_METRICS_TOKEN: 't'.repeat(32) };
    expect(loadConfig(good).metricsToken).toBe('t'.repeat(32));
    expect(() => loadConfig({ ...good, [name]: 'q'.repeat(31) })).toThrow(`${name}: must be at least 32 characters`);
  });

  it('reads the trusted proxies as addresses and CIDRs', () => {
    const c = loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), ZHEDEL_HTTP_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' });
    expect(c.http.trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', '::1']);
    for (const bad of ['nginx', '10.0.0.0/33', '10.0.0.1/8/1', 'true']) {
      expect(() => loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), ZHEDEL_HTTP_TRUST_PROXY: bad })).toThrow('ZHEDEL_HTTP_TRUST_PROXY');
    }
  });

  it('zhedel serve exits 78 with the example values in production, naming the variable', async () => {
    const r = await zhedel(['serve'], { ...example(), ZHEDEL_DB: join(tempDir(), 'z.db'), ZHEDEL_HTTP_PORT: '0' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('ZHEDEL_SECRET');
    expect(r.stderr).toContain('ZHEDEL_MONITORING_KEY');
  });
  it('takes the schedules\' grace period in minutes, 30 by default, and names a bad one', () => {
    const base = { ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40) };
    expect(loadConfig(base).schedules).toEqual({ graceMin: 30 });
    expect(loadConfig({ ...base, ZHEDEL_SCHEDULE_GRACE_MIN: '0' }).schedules).toEqual({ graceMin: 0 });
    expect(loadConfig({ ...base, ZHEDEL_SCHEDULE_GRACE_MIN: '90' }).schedules).toEqual({ graceMin: 90 });
    for (const bad of ['-1', '721', 'half an hour', '1.5']) {
      expect(() => loadConfig({ ...base, ZHEDEL_SCHEDULE_GRACE_MIN: bad })).toThrow('ZHEDEL_SCHEDULE_GRACE_MIN');
    }
  });
  it('starts the DC-09 receiver only with a port, and names a bad setting', () => {
    const base = { ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40) };
    expect(loadConfig(base).dc09).toEqual({ port: null, host: '0.0.0.0', windowMs: 20_000, supervisionS: 600, maxConnections: 5000, maxPerAddress: 50 });
    expect(loadConfig({ ...base, ZHEDEL_DC09_PORT: '5000', ZHEDEL_DC09_WINDOW_S: '60', ZHEDEL_DC09_SUPERVISION_S: '90000' }).dc09)
      .toMatchObject({ port: 5000, windowMs: 60_000, supervisionS: 90_000 });
    expect(loadConfig({ ...base, ZHEDEL_DC09_PORT: '0' }).dc09.port).toBe(0);
    for (const [name, bad] of [['ZHEDEL_DC09_PORT', '70000'], ['ZHEDEL_DC09_PORT', 'sia'], ['ZHEDEL_DC09_SUPERVISION_S', '59'], ['ZHEDEL_DC09_WINDOW_S', '0'], ['ZHEDEL_DC09_MAX_PER_ADDRESS', '0']] as const) {
      expect(() => loadConfig({ ...base, [name]: bad })).toThrow(name);
    }
  });
});
