import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Access } from '../../src/core/access.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub } from '../../src/main.ts';
import { makeFixture, seedClient, TEST_SECRET } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

/** The admin routes of alarm panels (SIA DC-09) over a listening HTTP server. */

interface Rig {
  fx: Fixture;
  base: string;
  admin: string;
  operator: string;
  logs: string[];
}

/** Called in a test: the server and the database go when the test ends. */
async function rig(): Promise<Rig> {
  const hub = new EventHub();
  const fx = makeFixture({ realClock: true, events: hub });
  const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core });
  const logs: string[] = [];
  const app: FastifyInstance = await buildApp({
    logger: createLogger('info', new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } })), checks: [], core: fx.core, access, hub,
    monitoringKey: null, rateLimitPerMinute: 0,
  });
  onTestFinished(async () => {
    await app.close();
    fx.close();
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const admin = (await access.addOperator({ name: 'Admin Aigerim', role: 'admin' })).token;
  const operator = (await access.addOperator({ name: 'Operator Dias', role: 'operator' })).token;
  await seedClient(fx, { codes: ['4711', '4712'] });
  return { fx, base, admin, operator, logs };
}

type Answer = { status: number; json: Record<string, unknown>; text: string };
async function call(r: Rig, method: string, path: string, token: string | null, body?: unknown): Promise<Answer> {
  const res = await fetch(r.base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as Record<string, unknown> : {}, text };
}

const errorOf = (a: Answer): { status: number; code: unknown } => ({ status: a.status, code: (a.json.error as { code?: string } | undefined)?.code });
const KEY = '00112233445566778899aabbccddeeff';
const URL_4711 = '/v1/admin/objects/4711/panel';

describe('alarm panels over the admin API', () => {
  it('lists and reads panel accounts; an admin registers one with its key, which is never sent back, logged or journalled', async () => {
    const r = await rig();
    expect(await call(r, 'GET', '/v1/admin/panels', r.operator)).toMatchObject({ status: 200, json: { panels: [] } });
    expect((await call(r, 'GET', '/v1/admin/panels', null)).status).toBe(401);
    expect(await call(r, 'GET', URL_4711, r.operator)).toMatchObject({ status: 200, json: { panel: null } });
    expect(errorOf(await call(r, 'GET', '/v1/admin/objects/9999/panel', r.operator))).toEqual({ status: 404, code: 'OBJECT_NOT_FOUND' });
    expect(errorOf(await call(r, 'GET', '/v1/admin/objects/abc/panel', r.operator))).toEqual({ status: 400, code: 'BAD_INPUT' });

    const put = await call(r, 'PUT', URL_4711, r.admin, { account: '7a3f', key: KEY.toUpperCase(), supervisionS: 900 });
    expect(put.status).toBe(200);
    expect(put.json.panel).toMatchObject({ account: '7A3F', objectCode: '4711', encrypted: true, supervisionS: 900, link: 'up', lastSeenAt: null, lostAt: null, updatedBy: 'Admin Aigerim' });
    expect(Object.keys(put.json.panel as object)).not.toContain('key');
    const list = await call(r, 'GET', '/v1/admin/panels', r.operator);
    expect(list.json.panels).toEqual([put.json.panel]);
    expect((await call(r, 'GET', URL_4711, r.operator)).json.panel).toEqual(put.json.panel);
    for (const text of [put.text, list.text, r.logs.join('\n'), JSON.stringify(await r.fx.core.searchJournal({ objectCode: '4711' }))]) {
      expect(text.toLowerCase()).not.toContain(KEY);
    }
    expect(await r.fx.core.panelKey('7A3F')).toEqual({ account: '7A3F', objectCode: '4711', key: KEY, unreadable: false });
  });

  it('an absent key keeps the account\'s key, null clears it; removing answers 404 when there is none', async () => {
    const r = await rig();
    expect((await call(r, 'PUT', URL_4711, r.admin, { account: '7A3F', key: KEY })).status).toBe(200);
    const kept = await call(r, 'PUT', URL_4711, r.admin, { account: '7A3F', supervisionS: 120 });
    expect(kept.json.panel).toMatchObject({ encrypted: true, supervisionS: 120 });
    expect((await r.fx.core.panelKey('7A3F'))?.key).toBe(KEY);
    expect((await call(r, 'PUT', URL_4711, r.admin, { account: '7A3F', key: null })).json.panel).toMatchObject({ encrypted: false });
    expect((await r.fx.core.panelKey('7A3F'))?.key).toBeNull();

    expect(await call(r, 'DELETE', URL_4711, r.admin)).toMatchObject({ status: 200, json: { removed: true } });
    expect((await call(r, 'GET', URL_4711, r.operator)).json).toEqual({ panel: null });
    expect(errorOf(await call(r, 'DELETE', URL_4711, r.admin))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(errorOf(await call(r, 'DELETE', '/v1/admin/objects/9999/panel', r.admin))).toEqual({ status: 404, code: 'OBJECT_NOT_FOUND' });
    expect((await r.fx.core.searchJournal({ objectCode: '4711', channel: 'operator' })).map((d) => d.action).filter((a) => a.startsWith('panel-'))).toEqual(['panel-remove', 'panel-set', 'panel-set', 'panel-set']);
  });

  it('bad input is a 400, an unknown object a 404, an operator without the admin role a 403, another object\'s account a 409: nothing changes', async () => {
    const r = await rig();
    expect((await call(r, 'PUT', URL_4711, r.admin, { account: '7A3F', key: KEY, supervisionS: 600 })).status).toBe(200);
    const before = (await call(r, 'GET', '/v1/admin/panels', r.operator)).json;
    const bad: unknown[] = [
      {}, { account: '' }, { account: '12' }, { account: 'XYZ1' }, { account: '1'.repeat(17) }, { account: 42 },
      { account: '7A3F', key: 'abc' }, { account: '7A3F', key: KEY.slice(0, 31) }, { account: '7A3F', key: 'zz'.repeat(16) }, { account: '7A3F', key: `${KEY}00` },
      { account: '7A3F', supervisionS: 59 }, { account: '7A3F', supervisionS: 604_801 }, { account: '7A3F', supervisionS: 60.5 }, { account: '7A3F', supervisionS: 'often' },
      { account: '7A3F', colour: 'red' },
    ];
    for (const body of bad) expect(errorOf(await call(r, 'PUT', URL_4711, r.admin, body)), JSON.stringify(body)).toEqual({ status: 400, code: 'BAD_INPUT' });
    expect(errorOf(await call(r, 'PUT', '/v1/admin/objects/9999/panel', r.admin, { account: '9999' }))).toEqual({ status: 404, code: 'OBJECT_NOT_FOUND' });
    const conflict = await call(r, 'PUT', '/v1/admin/objects/4712/panel', r.admin, { account: '7a3f' });
    expect(errorOf(conflict)).toEqual({ status: 409, code: 'CONFLICT' });
    expect((conflict.json.error as { message: string }).message).toContain('belongs to object 4711');

    // an operator reads but does not change
    expect(errorOf(await call(r, 'PUT', URL_4711, r.operator, { account: '7A3F', key: null }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(errorOf(await call(r, 'PUT', '/v1/admin/objects/4712/panel', r.operator, { account: '0B0B' }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(errorOf(await call(r, 'DELETE', URL_4711, r.operator))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(errorOf(await call(r, 'PUT', URL_4711, null, { account: '7A3F' }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });

    expect((await call(r, 'GET', '/v1/admin/panels', r.operator)).json).toEqual(before);
    expect((await r.fx.core.panelKey('7A3F'))?.key).toBe(KEY);
    expect((await r.fx.core.searchJournal({ action: 'panel-set' })).length).toBe(1);
  });

  it('the console\'s event stream says in its hello which role the operator has', async () => {
    const r = await rig();
    for (const [token, role] of [[r.admin, 'admin'], [r.operator, 'operator']] as const) {
      const res = await fetch(`${r.base}/v1/admin/events`, { headers: { authorization: `Bearer ${token}` } });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!/event: hello\ndata: .*\n/.test(text)) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`stream ended before its hello: ${text}`);
        text += new TextDecoder().decode(chunk.value);
      }
      // read on to its end: the server ends it when it closes
      void (async () => { while (!(await reader.read()).done); })();
      const data = JSON.parse(/event: hello\ndata: (.*)\n/.exec(text)![1]!) as Record<string, unknown>;
      expect(data).toMatchObject({ role });
    }
  });
});
