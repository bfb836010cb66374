import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Access } from '../../src/core/access.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub } from '../../src/main.ts';
import { makeFixture, seedClient, TEST_SECRET } from '../support/core-fixture.ts';
import type { Fixture } from '../support/core-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

interface Rig {
  fx: Fixture;
  base: string;
  operator: string;
}

/** The HTTP API listening on a free local port, over a core on a SQLite file. */
async function rig(): Promise<Rig> {
  const hub = new EventHub();
  const fx = makeFixture({ realClock: true, events: hub });
  cleanups.push(() => fx.close());
  const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core });
  const app: FastifyInstance = await buildApp({
    logger: createLogger('info', new Writable({ write(_c, _e, cb) { cb(); } })), checks: [], core: fx.core, access, hub, monitoringKey: null, rateLimitPerMinute: 0,
    metrics: { outboxByState: () => ({}), documents: () => 0, otpSendsLastHour: () => 0, codeFailures: () => 0, objectStatuses: () => [] },
  });
  cleanups.push(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const operator = (await access.addOperator({ name: 'Operator Dias', role: 'operator' })).token;
  return { fx, base: address, operator };
}

async function call(r: Rig, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(r.base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

const errorCode = (r: { json: Record<string, unknown> }): unknown => (r.json.error as { code?: string } | undefined)?.code;

async function signIn(r: Rig, phone: string): Promise<string> {
  expect((await call(r, 'POST', '/v1/auth/otp', null, { phone })).status).toBe(202);
  const code = await r.fx.lastCode(phone);
  const v = await call(r, 'POST', '/v1/auth/verify', null, { phone, code });
  expect(v.status).toBe(200);
  return v.json.token as string;
}

describe('schedules over HTTP', () => {
  it('operators read, set and clear a schedule and its exceptions; bad input is a 400 and changes nothing', async () => {
    const r = await rig();
    await seedClient(r.fx, { codes: ['4711'] });
    const url = '/v1/admin/objects/4711/schedule';
    expect(await call(r, 'GET', url, r.operator)).toEqual({ status: 200, json: { schedule: null } });
    expect((await call(r, 'GET', url, null)).status).toBe(401);
    expect((await call(r, 'GET', '/v1/admin/objects/9999/schedule', r.operator)).status).toBe(404);

    const week = { days: [{ weekday: 1, openFrom: '07:00', armBy: '20:00' }, { weekday: 6, armBy: '22:00' }] };
    for (const bad of [
      { days: [] }, { days: [{ weekday: 8, armBy: '20:00' }] }, { days: [{ weekday: 1, armBy: '25:00' }] }, { days: [{ weekday: 1, armBy: '07:00', openFrom: '20:00' }] },
      { days: [{ weekday: 1 }] }, { days: week.days, colour: 'red' }, { days: 'mon-fri' },
    ]) {
      const res = await call(r, 'PUT', url, r.operator, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(errorCode(res)).toBe('BAD_INPUT');
    }
    expect((await call(r, 'GET', url, r.operator)).json).toEqual({ schedule: null });
    expect((await call(r, 'PUT', `${url}/exceptions/2026-12-31`, r.operator, { closed: true })).status).toBe(404);

    const set = await call(r, 'PUT', url, r.operator, { ...week, notifyOffSchedule: false });
    expect(set.status).toBe(200);
    expect(set.json.schedule).toMatchObject({
      objectCode: '4711', notifyOffSchedule: false, updatedBy: 'Operator Dias',
      days: [{ weekday: 1, openFrom: '07:00', armBy: '20:00' }, { weekday: 6, openFrom: null, armBy: '22:00' }],
    });
    expect((await call(r, 'PUT', `${url}/exceptions/2026-02-30`, r.operator, { closed: true })).status).toBe(400);
    expect((await call(r, 'PUT', `${url}/exceptions/2026-12-31`, r.operator, { closed: true, armBy: '15:00' })).status).toBe(400);
    expect((await call(r, 'PUT', `${url}/exceptions/31-12-2026`, r.operator, { closed: true })).status).toBe(400);
    const ex = await call(r, 'PUT', `${url}/exceptions/2026-12-31`, r.operator, { closed: true, note: 'New Year' });
    expect(ex.status).toBe(200);
    expect((ex.json.schedule as { exceptions: unknown[] }).exceptions).toEqual([{ date: '2026-12-31', closed: true, armBy: null, openFrom: null, note: 'New Year' }]);
    await call(r, 'PUT', `${url}/exceptions/2026-03-08`, r.operator, { armBy: '15:00' });
    const removed = await call(r, 'DELETE', `${url}/exceptions/2026-12-31`, r.operator);
    expect((removed.json.schedule as { exceptions: unknown[] }).exceptions).toEqual([{ date: '2026-03-08', closed: false, armBy: '15:00', openFrom: null, note: null }]);
    expect((await call(r, 'DELETE', `${url}/exceptions/2026-12-31`, r.operator)).status).toBe(404);

    expect(await call(r, 'DELETE', url, r.operator)).toEqual({ status: 200, json: { cleared: true } });
    expect((await call(r, 'DELETE', url, r.operator)).status).toBe(404);
    const docs = await r.fx.core.searchJournal({ channel: 'operator', objectCode: '4711', limit: 20 });
    expect(docs.filter((d) => d.action.startsWith('schedule')).map((d) => d.action).reverse())
      .toEqual(['schedule-set', 'schedule-exception-add', 'schedule-exception-add', 'schedule-exception-remove', 'schedule-clear']);
  });

  it('a signed-in client reads the schedule of its own objects only', async () => {
    const r = await rig();
    await seedClient(r.fx, { codes: ['4711'] });
    await seedClient(r.fx, { codes: ['5555'], phone: '+77017654321', name: 'Other' });
    await r.fx.core.setSchedule({ objectCode: '4711', days: [{ weekday: 6, armBy: '22:00', openFrom: null }], operator: 'anna' });
    await r.fx.core.addScheduleException({ objectCode: '4711', date: '2099-01-01', closed: true, operator: 'anna' });
    await r.fx.core.addScheduleException({ objectCode: '4711', date: '2000-01-01', closed: true, operator: 'anna' });
    await r.fx.core.setSchedule({ objectCode: '5555', days: [{ weekday: 1, armBy: '20:00', openFrom: null }], operator: 'anna' });
    const token = await signIn(r, '+77011234567');

    const own = await call(r, 'GET', '/v1/objects/4711/schedule', token);
    expect(own.status).toBe(200);
    expect(own.json).toEqual({
      object: '4711',
      schedule: {
        days: [{ weekday: 6, armBy: '22:00', openFrom: null }], notifyOffSchedule: true,
        exceptions: [{ date: '2099-01-01', closed: true, armBy: null, openFrom: null, note: null }],
      },
      text: 'График объекта 4711:\nСб: охрана до 22:00\n01.01: выходной',
    });
    const foreign = await call(r, 'GET', '/v1/objects/5555/schedule', token);
    expect(foreign.status).toBe(404);
    expect(errorCode(foreign)).toBe('OBJECT_NOT_FOUND');
    expect((await call(r, 'GET', '/v1/objects/4711/schedule', null)).status).toBe(401);
    expect((await call(r, 'GET', '/v1/objects/47/schedule', token)).status).toBe(400);
    const docs = await r.fx.core.searchJournal({ action: 'schedule', limit: 10 });
    expect(docs.map((d) => [d.channel, d.objectCode, d.outcome]).reverse()).toEqual([['app', '4711', 'accepted'], ['app', '5555', 'refused']]);
  });
});
