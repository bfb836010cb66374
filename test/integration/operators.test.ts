import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { Access } from '../../src/core/access.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub } from '../../src/main.ts';
import { zhedel } from '../support/cli.ts';
import { makeFixture, seedClient, TEST_SECRET } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';
import { findSecrets } from '../support/log-hygiene.ts';

/** Operators' credentials: expiry, disable, enable, rotate; over HTTP and from the command line. */

interface Rig {
  fx: Fixture;
  app: FastifyInstance;
  access: Access;
  logs: string[];
  admin: string;
  operator: string;
  /** The command line on the same database, as another process. */
  cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; exitedAt: number }>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const DAY = 86_400_000;
const auth = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

async function rig(): Promise<Rig> {
  const hub = new EventHub();
  const fx = makeFixture({ realClock: true, events: hub });
  cleanups.push(() => fx.close());
  const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core, operatorTokenDays: 30 });
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const app = await buildApp({
    logger: createLogger('info', sink), checks: [], core: fx.core, access, hub, monitoringKey: null, rateLimitPerMinute: 0,
    // as the service wires it: changes committed by another process move the store's change marker
    revocationMarker: () => fx.admin.changeMarker(),
  });
  cleanups.push(() => app.close());
  const admin = (await access.addOperator({ name: 'Admin Aigerim', role: 'admin', by: 'setup' })).token;
  const operator = (await access.addOperator({ name: 'Operator Dias', role: 'operator', by: 'setup' })).token;
  const env = { ZHEDEL_DB: fx.dbPath, ZHEDEL_SECRET: TEST_SECRET };
  const cli = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; exitedAt: number }> => {
    const r = await zhedel(args, env, 60_000);
    return { ...r, exitedAt: Date.now() };
  };
  return { fx, app, access, logs, admin, operator, cli };
}

interface Stream {
  text(): string;
  waitFor(needle: string, ms: number): Promise<void>;
  /** Resolves with the time the server ended the stream. */
  ended: Promise<number>;
  abort(): void;
}

/** An event stream over a real port, read as it arrives. */
async function openEvents(address: string, token: string): Promise<Stream> {
  const ctl = new AbortController();
  const res = await fetch(`${address}/v1/admin/events`, { headers: auth(token), signal: ctl.signal });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const waiters: Array<() => void> = [];
  const ended = (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
        for (const w of waiters.splice(0)) w();
      }
    } catch {
      // aborted by the test
    }
    for (const w of waiters.splice(0)) w();
    return Date.now();
  })();
  cleanups.push(() => ctl.abort());
  return {
    text: () => text,
    ended,
    abort: () => ctl.abort(),
    async waitFor(needle, ms) {
      const deadline = Date.now() + ms;
      while (!text.includes(needle)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no "${needle}" within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
    },
  };
}

/** Whether the stream ends within `ms`. */
async function endsWithin(s: Stream, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([s.ended.then(() => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); })]);
  clearTimeout(timer);
  return r;
}

describe('operators\' credentials over HTTP', () => {
  it('a disabled operator\'s token answers 401 at once; enable restores it; every change journalled with the admin', async () => {
    const r = await rig();
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) })).statusCode).toBe(200);
    // only an admin may do it, and no fields beyond the name
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/disable', headers: auth(r.operator) })).statusCode).toBe(403);
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/disable', headers: auth(r.admin), payload: { why: 'x' } })).statusCode).toBe(400);
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Nobody/disable', headers: auth(r.admin) })).statusCode).toBe(404);

    const d = await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/disable', headers: auth(r.admin) });
    expect(d.statusCode).toBe(200);
    expect(d.json()).toMatchObject({ changed: true, operator: { name: 'Operator Dias', state: 'disabled' } });
    const refused = await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('UNAUTHENTICATED');
    const again = await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/disable', headers: auth(r.admin) });
    expect(again.json()).toMatchObject({ changed: false });

    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/enable', headers: auth(r.admin) })).json()).toMatchObject({ changed: true, operator: { state: 'active' } });
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) })).statusCode).toBe(200);

    const docs = (await r.fx.core.searchJournal({ limit: 20 })).filter((x) => x.action.startsWith('operator-'));
    expect(docs.map((x) => [x.action, x.operator, x.detail])).toEqual([
      ['operator-enable', 'Admin Aigerim', 'operator=Operator Dias'],
      ['operator-disable', 'Admin Aigerim', 'operator=Operator Dias'],
      ['operator-add', 'setup', expect.stringContaining('operator=Operator Dias role=operator expires=')],
      ['operator-add', 'setup', expect.stringContaining('operator=Admin Aigerim role=admin expires=')],
    ]);
    expect((await r.fx.core.verifyJournal()).ok).toBe(true);
  });

  it('the last enabled admin cannot be disabled, not even by themselves', async () => {
    const r = await rig();
    const self = await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Admin%20Aigerim/disable', headers: auth(r.admin) });
    expect(self.statusCode).toBe(409);
    expect(self.json().error.code).toBe('CONFLICT');
    expect((await r.app.inject({ url: '/v1/admin/operators', headers: auth(r.admin) })).statusCode).toBe(200);
    // with a second admin it is allowed
    const second = (await r.access.addOperator({ name: 'Admin Two', role: 'admin', by: 'Admin Aigerim' })).token;
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Admin%20Aigerim/disable', headers: auth(second) })).statusCode).toBe(200);
    expect((await r.app.inject({ url: '/v1/admin/operators', headers: auth(r.admin) })).statusCode).toBe(401);
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Admin%20Two/disable', headers: auth(second) })).statusCode).toBe(409);
  });

  it('rotation: the old token answers 401 at once, the new one works and is shown only in the answer', async () => {
    const r = await rig();
    const rot = await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/rotate', headers: auth(r.admin) });
    expect(rot.statusCode).toBe(200);
    const fresh = rot.json().token as string;
    expect(fresh).toMatch(/^[\w-]{40,}$/);
    expect(fresh).not.toBe(r.operator);
    expect(Date.parse(rot.json().expiresAt as string) - Date.now()).toBeGreaterThan(29 * DAY);
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) })).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(fresh) })).statusCode).toBe(200);
    expect((await r.fx.core.searchJournal({ action: 'operator-rotate' }))[0]).toMatchObject({ operator: 'Admin Aigerim', detail: expect.stringContaining('operator=Operator Dias') });
    // stored only hashed, never in a log or the journal
    const dump = JSON.stringify(r.fx.db.prepare('SELECT * FROM operators').all()) + JSON.stringify(await r.fx.core.searchJournal({ limit: 100 }));
    expect(dump).not.toContain(fresh);
    expect(r.logs.join('')).not.toContain(fresh);
    expect(findSecrets(r.logs.join(''))).toEqual([]);
  });

  it('an expired token answers 401 TOKEN_EXPIRED; the list shows it; rotation renews it', async () => {
    const r = await rig();
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) })).statusCode).toBe(200);
    r.fx.clock.advance(31 * DAY);
    const expired = await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error).toMatchObject({ code: 'TOKEN_EXPIRED', message: expect.stringContaining('expired') });
    // an unknown token stays a plain refusal
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth('not-a-token-at-all') })).json().error.code).toBe('UNAUTHENTICATED');
    const list = await r.access.listOperators();
    expect(list.find((o) => o.name === 'Operator Dias')?.state).toBe('expired');
    // the admin's token expired too: a second, fresh admin renews the operator's
    const fresh = (await r.access.addOperator({ name: 'Admin Fresh', role: 'admin', by: 'setup' })).token;
    const rot = await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/rotate', headers: auth(fresh) });
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(rot.json().token as string) })).statusCode).toBe(200);
  });

  it('last use is recorded at most once a minute', async () => {
    const r = await rig();
    const lastUse = async (): Promise<string | null> => (await r.access.listOperators()).find((o) => o.name === 'Operator Dias')?.lastUsedAt ?? null;
    expect(await lastUse()).toBeNull();
    await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });
    const first = await lastUse();
    expect(first).not.toBeNull();
    await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });
    expect(await lastUse()).toBe(first);
    r.fx.clock.advance(61_000);
    await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });
    expect(Date.parse(await lastUse() as string)).toBeGreaterThan(Date.parse(first as string));
  });

  it('the new routes are in the OpenAPI document', async () => {
    const r = await rig();
    const paths = Object.keys((await r.app.inject('/docs/json')).json().paths as Record<string, unknown>);
    expect(paths).toEqual(expect.arrayContaining(['/v1/admin/operators/{name}/disable', '/v1/admin/operators/{name}/enable', '/v1/admin/operators/{name}/rotate']));
  });

  it('disabling over HTTP ends that operator\'s open console stream at once, not the others\'', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const op = await openEvents(address, r.operator);
    const adm = await openEvents(address, r.admin);
    await op.waitFor('event: hello', 10_000);
    await adm.waitFor('event: hello', 10_000);
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/operators/Operator%20Dias/disable', headers: auth(r.admin) })).statusCode).toBe(200);
    expect(await endsWithin(op, 5_000)).toBe(true);
    expect(op.text()).toContain('event: revoked');
    // the admin's stream lives on and still gets events
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'Admin Aigerim' });
    await adm.waitFor('"status":"armed"', 5_000);
    expect(await endsWithin(adm, 300)).toBe(false);
  });
});

// each command is a new process: slow on a loaded machine
describe('operators\' credentials from the command line', { timeout: 180_000 }, () => {
  it('`operator disable` in another process closes the open console stream within about a second', async () => {
    const r = await rig();
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const op = await openEvents(address, r.operator);
    const adm = await openEvents(address, r.admin);
    await op.waitFor('event: hello', 10_000);
    await adm.waitFor('event: hello', 10_000);
    const d = await r.cli(['operator', 'disable', '--name', 'Operator Dias', '--operator', 'Admin Aigerim']);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('operator Operator Dias disabled');
    // the change is committed before the process exits; the service notices it by itself
    expect(await endsWithin(op, 15_000)).toBe(true);
    expect((await op.ended) - d.exitedAt).toBeLessThan(5_000); // the poll runs every 250 ms; the 15 s heartbeat would miss this bound, a busy machine would not
    expect(op.text()).toContain('event: revoked');
    expect(await endsWithin(adm, 300)).toBe(false);
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) })).statusCode).toBe(401);
    expect((await r.fx.core.searchJournal({ action: 'operator-disable' }))[0]).toMatchObject({ operator: 'Admin Aigerim', detail: 'operator=Operator Dias' });
  });

  it('`operator rotate` prints a new token once; the old one stops at once, its stream too; list, add, enable, last admin', async () => {
    const r = await rig();
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const op = await openEvents(address, r.operator);
    await op.waitFor('event: hello', 10_000);
    await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });

    const rot = await r.cli(['operator', 'rotate', '--name', 'Operator Dias', '--operator', 'Admin Aigerim']);
    expect(rot.code).toBe(0);
    const fresh = rot.stdout.trim().split('\n').pop() as string;
    expect(fresh).toMatch(/^[\w-]{40,}$/);
    expect(rot.stdout).toMatch(/the new one expires \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    expect(await endsWithin(op, 15_000)).toBe(true);
    expect((await op.ended) - rot.exitedAt).toBeLessThan(5_000); // the poll runs every 250 ms; the 15 s heartbeat would miss this bound, a busy machine would not
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) })).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(fresh) })).statusCode).toBe(200);

    const add = await r.cli(['operator', 'add', '--name', 'Operator Asel', '--role', 'operator', '--operator', 'Admin Aigerim']);
    expect(add.stdout).toMatch(/token expires \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    const last = await r.cli(['operator', 'disable', '--name', 'Admin Aigerim']);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/^zhedel: CONFLICT: .*last enabled admin/);
    expect((await r.cli(['operator', 'disable', '--name', 'Operator Asel', '--operator', 'Admin Aigerim'])).code).toBe(0);

    const list = await r.cli(['operator', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/Admin Aigerim\s+admin\s+active\s+last use never\s+expires \d{4}-/);
    expect(list.stdout).toMatch(/Operator Dias\s+operator\s+active\s+last use \d{4}-\d{2}-\d{2} \d{2}:\d{2}\s+expires/);
    expect(list.stdout).toMatch(/Operator Asel\s+operator\s+disabled/);
    const json = JSON.parse((await r.cli(['operator', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(json.map((o) => o.state)).toEqual(['active', 'active', 'disabled']);
    expect(JSON.stringify(json)).not.toMatch(/hash/i);

    expect((await r.cli(['operator', 'enable', '--name', 'Operator Asel', '--operator', 'Admin Aigerim'])).stdout).toContain('enabled');
    const journal = await r.cli(['journal', '--limit', '10']);
    for (const action of ['operator-rotate', 'operator-add', 'operator-disable', 'operator-enable']) {
      expect(journal.stdout).toMatch(new RegExp(`${action}\\s+executed\\s+auth=operator\\s+by=Admin Aigerim\\s+operator=`));
    }
    expect(journal.stdout).not.toContain(fresh);
  });

  it('the expiry is configured in days', () => {
    expect(loadConfig({ ZHEDEL_SECRET: TEST_SECRET }).operatorTokenDays).toBe(90);
    expect(loadConfig({ ZHEDEL_SECRET: TEST_SECRET, ZHEDEL_OPERATOR_TOKEN_DAYS: '7' }).operatorTokenDays).toBe(7);
    expect(() => loadConfig({ ZHEDEL_SECRET: TEST_SECRET, ZHEDEL_OPERATOR_TOKEN_DAYS: '0' })).toThrow(/ZHEDEL_OPERATOR_TOKEN_DAYS/);
  });
});
