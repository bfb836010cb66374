import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { tempDir } from '../support/core-fixture.ts';

describe('configuration', () => {
  it('has embedded defaults and generates a development secret once, mode 0600', () => {
    const dir = tempDir();
    const db = join(dir, 'sub', 'z.db');
    const c = loadConfig({ ZHEDEL_DB: db });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080, rateLimitPerMinute: 600 });
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
  ])('names the bad variable %s=%s', (key, value) => {
    expect(() => loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), [key]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ZHEDEL_DB: ':memory:', ZHEDEL_SECRET: 's'.repeat(40), [key]: value })).toThrow(key);
  });

  it('requires a secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', ZHEDEL_DB: join(tempDir(), 'z.db') })).toThrow('ZHEDEL_SECRET');
  });
});
