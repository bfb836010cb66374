import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Access } from '../../src/core/access.ts';
import { cryptoRandom } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { buildApp } from '../../src/http/build-app.ts';
import type { AppDeps } from '../../src/http/build-app.ts';
import { createLogger } from '../../src/logger.ts';
import { EventHub } from '../../src/main.ts';
import { makeFixture, seedClient, TEST_SECRET } from '../support/core-fixture.ts';
import { findSecrets } from '../support/log-hygiene.ts';
import type { Fixture } from '../support/core-fixture.ts';

interface Rig {
  fx: Fixture;
  app: FastifyInstance;
  access: Access;
  hub: EventHub;
  logs: string[];
  admin: string;
  operator: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function rig(o: Partial<Pick<AppDeps, 'rateLimitPerMinute' | 'trustProxy' | 'metricsToken' | 'streamsPerSession' | 'streamsPerAddress'>> = {}): Promise<Rig> {
  const hub = new EventHub();
  const fx = makeFixture({ realClock: true, events: hub });
  cleanups.push(() => fx.close());
  const access = new Access({ store: fx.store, clock: fx.clock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), core: fx.core });
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const db = fx.db;
  const app = await buildApp({
    logger: createLogger('info', sink), checks: [{ name: 'database', required: true, check: () => ({ ok: true }) }],
    core: fx.core, access, hub, monitoringKey: 'monitoring-key-123', watchMs: 100, ...o, rateLimitPerMinute: o.rateLimitPerMinute ?? 0,
    metrics: {
      outboxByState: () => ({ queued: (db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued'").get() as { n: number }).n }),
      documents: () => (db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n,
      otpSendsLastHour: () => 0,
      codeFailures: () => 0,
      objectStatuses: () => (db.prepare('SELECT code, client_id, status, status_since FROM objects').all() as Array<Record<string, unknown>>)
        .map((r) => ({ code: r.code as string, clientId: r.client_id as number, status: r.status as string, since: r.status_since as string })),
    },
  });
  cleanups.push(() => app.close());
  const admin = (await access.addOperator({ name: 'Admin Aigerim', role: 'admin' })).token;
  const operator = (await access.addOperator({ name: 'Operator Dias', role: 'operator' })).token;
  return { fx, app, access, hub, logs, admin, operator };
}

async function signIn(r: Rig, phone = '87011234567', channel: 'app' | 'chat' = 'app'): Promise<string> {
  const otp = await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone, channel } });
  expect(otp.statusCode).toBe(202);
  const code = await r.fx.lastCode((await r.fx.core.identify(phone)).phone as string);
  const v = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone, code, channel } });
  expect(v.statusCode).toBe(200);
  return v.json().token as string;
}

const auth = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

describe('HTTP API', () => {
  it('health, readiness, metrics, OpenAPI', async () => {
    const r = await rig();
    expect((await r.app.inject('/health')).json()).toEqual({ status: 'ok' });
    expect((await r.app.inject('/ready')).json()).toMatchObject({ ready: true, checks: { database: { ok: true } } });
    const m = await r.app.inject('/metrics');
    expect(m.body).toContain('zhedel_documents');
    expect(m.body).toContain('zhedel_sms{state="queued"}');
    const docs = await r.app.inject('/docs/json');
    expect(docs.statusCode).toBe(200);
    expect(Object.keys(docs.json().paths)).toEqual(expect.arrayContaining(['/v1/auth/otp', '/v1/objects/{code}/disarm', '/v1/admin/numbers/{phone}/block', '/v1/monitoring/events']));
  });

  it('sign-in answers the same for unknown numbers and sends no SMS to them', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const unknown = await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: '87019999999' } });
    const known = await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: '87011234567' } });
    expect(unknown.statusCode).toBe(202);
    expect(unknown.json()).toEqual(known.json());
    expect((await r.fx.core.listOutbox({ limit: 10 })).map((m) => m.phone)).toEqual(['+77011234567']);
    expect((await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: 'hello' } })).json().error.code).toBe('BAD_PHONE');
  });

  it('a wrong code is refused; the right one gives a token; it cannot be used twice', async () => {
    const r = await rig();
    await seedClient(r.fx);
    await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: '87011234567' } });
    const code = await r.fx.lastCode('+77011234567');
    const wrong = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code: code === '000000' ? '111111' : '000000' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error).toEqual({ code: 'UNAUTHENTICATED', message: expect.stringContaining('ask for a new one') });
    const ok = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code } });
    expect(ok.json().token).toMatch(/^[\w-]{40,}$/);
    const again = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code } });
    expect(again.statusCode).toBe(401);
    // tokens and codes are stored hashed, never in clear
    const dump = JSON.stringify(r.fx.db.prepare('SELECT * FROM sessions').all());
    expect(dump).not.toContain(ok.json().token);
  });

  it('objects: list, own only, arm, disarm confirmed by the code, replays refused', async () => {
    const r = await rig();
    await seedClient(r.fx);
    await seedClient(r.fx, { phone: '+77021234567', codes: ['9999'] });
    const t = await signIn(r);
    expect((await r.app.inject({ url: '/v1/objects', headers: auth(t) })).json().objects.map((o: { code: string }) => o.code)).toEqual(['1234']);
    expect((await r.app.inject({ url: '/v1/objects/9999', headers: auth(t) })).statusCode).toBe(404);
    expect((await r.app.inject({ url: '/v1/objects/4444', headers: auth(t) })).statusCode).toBe(404);
    expect((await r.app.inject({ method: 'POST', url: '/v1/objects/9999/arm', headers: auth(t) })).statusCode).toBe(404);
    expect((await r.fx.core.getObject('9999')).status).toBe('disarmed');
    const arm = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/arm', headers: auth(t) });
    expect(arm.json()).toMatchObject({ changed: true, object: { code: '1234', status: 'armed' } });
    r.fx.clock.advance(61_000);
    const dis = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(t) });
    expect(dis.statusCode).toBe(202);
    const docId = dis.json().documentId as string;
    expect((await r.fx.core.getObject('1234')).status).toBe('armed');
    const code = await r.fx.lastCode('+77011234567');
    const wrong = await r.app.inject({ method: 'POST', url: `/v1/documents/${docId}/confirm`, headers: auth(t), payload: { code: code === '000000' ? '111111' : '000000' } });
    expect(wrong.json().error.code).toBe('CODE_WRONG');
    const conf = await r.app.inject({ method: 'POST', url: `/v1/documents/${docId}/confirm`, headers: auth(t), payload: { code } });
    expect(conf.json()).toMatchObject({ action: 'disarm', object: { status: 'disarmed' } });
    const replay = await r.app.inject({ method: 'POST', url: `/v1/documents/${docId}/confirm`, headers: auth(t), payload: { code } });
    expect(replay.statusCode).toBe(409);
    expect(replay.json().error.code).toBe('CODE_USED');
    const docs = (await r.app.inject({ url: '/v1/documents', headers: auth(t) })).json().documents as Array<{ action: string; auth: string }>;
    expect(docs.map((d) => d.action)).toContain('disarm');
    expect(docs.every((d) => d.action !== 'client-add' || true)).toBe(true);
    const other = (await r.fx.core.searchJournal({ clientId: 2 })).map((d) => d.seq);
    expect(docs.map((d) => (d as unknown as { seq: number }).seq).some((s) => other.includes(s))).toBe(false);
  });

  it('bad input: malformed JSON, unknown fields, huge bodies, wrong types, missing tokens', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const t = await signIn(r);
    const before = (r.fx.db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
    const bad = async (opts: InjectOptions, status: number, code: string): Promise<void> => {
      const res = await r.app.inject(opts);
      expect({ status: res.statusCode, code: res.json().error?.code }).toEqual({ status, code });
    };
    await bad({ method: 'POST', url: '/v1/chat', headers: { ...auth(t), 'content-type': 'application/json' }, payload: '{"text":' }, 400, 'BAD_JSON');
    await bad({ method: 'POST', url: '/v1/chat', headers: auth(t), payload: { text: 'СТАТУС', extra: 1 } }, 400, 'BAD_INPUT');
    await bad({ method: 'POST', url: '/v1/chat', headers: auth(t), payload: { text: 42 } }, 400, 'BAD_INPUT');
    await bad({ method: 'POST', url: '/v1/chat', headers: auth(t), payload: { text: 'x'.repeat(40_000) } }, 413, 'TOO_LARGE');
    await bad({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '+44 20 7946 0958', code: '123456' } }, 400, 'BAD_PHONE');
    await bad({ method: 'GET', url: '/v1/objects' }, 401, 'UNAUTHENTICATED');
    await bad({ method: 'GET', url: '/v1/objects', headers: auth('not-a-token') }, 401, 'UNAUTHENTICATED');
    await bad({ method: 'GET', url: '/v1/objects/12ab', headers: auth(t) }, 400, 'BAD_INPUT');
    await bad({ method: 'GET', url: '/v1/nothing' }, 404, 'NOT_FOUND');
    expect((r.fx.db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n).toBe(before);
  });

  it('the chat speaks the client\'s language and carries a disarm through its code', async () => {
    const r = await rig();
    await seedClient(r.fx, { lang: 'kk' });
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const t = await signIn(r, '87011234567', 'chat');
    r.fx.clock.advance(61_000);
    const say = async (text: string): Promise<string> => (await r.app.inject({ method: 'POST', url: '/v1/chat', headers: auth(t), payload: { text } })).json().reply as string;
    expect(await say('КҮЙ')).toMatch(/^1234: күзетте/);
    expect(await say('АЛУ')).toContain('Растау коды');
    expect(await say(await r.fx.lastCode('+77011234567'))).toBe('1234 нысаны күзеттен алынды.');
    expect((await r.fx.core.searchJournal({ action: 'disarm', outcome: 'executed' }))[0]).toMatchObject({ channel: 'chat', auth: 'otp' });
  });

  it('sign-in then a disarm within 5 s gets its code, in the app and in the chat', async () => {
    const r = await rig();
    await seedClient(r.fx, { codes: ['1234', '5678'] });
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '5678', operator: 'op' });
    const app = await signIn(r);
    r.fx.clock.advance(4_000);
    const dis = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(app) });
    expect(dis.statusCode).toBe(202);
    const conf = await r.app.inject({ method: 'POST', url: `/v1/documents/${dis.json().documentId as string}/confirm`, headers: auth(app), payload: { code: await r.fx.lastCode('+77011234567') } });
    expect(conf.json()).toMatchObject({ action: 'disarm', object: { status: 'disarmed' } });
    r.fx.clock.advance(4_000);
    const chat = await signIn(r, '87011234567', 'chat');
    r.fx.clock.advance(4_000);
    const say = async (text: string): Promise<string> => (await r.app.inject({ method: 'POST', url: '/v1/chat', headers: auth(chat), payload: { text } })).json().reply as string;
    expect(await say('СНЯТЬ 5678')).toContain('Код подтверждения отправлен');
    expect(await say(await r.fx.lastCode('+77011234567'))).toBe('Объект 5678 снят с охраны.');
    // a second disarm request while its code is pending: told the code is valid and when a new one can come
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const again = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(app) });
    expect(again.statusCode).toBe(202);
    const twice = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(app) });
    expect(twice.statusCode).toBe(429);
    expect(twice.json().error).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 60, limit: 'pause' } });
  });

  it('twenty sign-in requests by a stranger leave the client\'s disarm alone; one flood alert', async () => {
    const r = await rig();
    await seedClient(r.fx);
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const t = await signIn(r);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      r.fx.clock.advance(61_000);
      // from twenty addresses: the per-address limit does not save the number
      statuses.push((await r.app.inject({ method: 'POST', url: '/v1/auth/otp', remoteAddress: `198.51.100.${i + 1}`, payload: { phone: '87011234567' } })).statusCode);
    }
    expect(statuses.every((x) => x === 202)).toBe(true);
    expect((await r.fx.core.listOutbox({ limit: 100 })).filter((m) => m.kind === 'otp')).toHaveLength(3);
    const dis = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(t) });
    expect(dis.statusCode).toBe(202);
    const conf = await r.app.inject({ method: 'POST', url: `/v1/documents/${dis.json().documentId as string}/confirm`, headers: auth(t), payload: { code: await r.fx.lastCode('+77011234567') } });
    expect(conf.json()).toMatchObject({ object: { status: 'disarmed' } });
    const flood = (await r.fx.core.listAlerts()).filter((a) => a.kind === 'code-flood');
    expect(flood).toHaveLength(1);
    expect(flood[0]?.detail).toMatch(/^code flood on \+7701\*{5}67: sign-in codes used up/);
    expect(await r.fx.core.searchJournal({ action: 'operator-alert' })).toHaveLength(1);
    expect(await r.fx.core.searchJournal({ action: 'sign-in', outcome: 'refused' })).toHaveLength(0);
  });

  it('the ceiling on code SMS is read by operators and changed by admins', async () => {
    const r = await rig();
    const get = await r.app.inject({ url: '/v1/admin/otp/ceiling', headers: auth(r.operator) });
    expect(get.json()).toEqual({ ceilingPerHour: 10, budgets: { 'sign-in': 3, action: 7 }, resendPauseSeconds: 60 });
    expect((await r.app.inject({ method: 'PUT', url: '/v1/admin/otp/ceiling', headers: auth(r.operator), payload: { perHour: 20 } })).statusCode).toBe(403);
    expect((await r.app.inject({ method: 'PUT', url: '/v1/admin/otp/ceiling', headers: auth(r.admin), payload: { perHour: 4 } })).json().error.code).toBe('BAD_INPUT');
    const put = await r.app.inject({ method: 'PUT', url: '/v1/admin/otp/ceiling', headers: auth(r.admin), payload: { perHour: 20 } });
    expect(put.json()).toEqual({ ceilingPerHour: 20, budgets: { 'sign-in': 3, action: 17 }, resendPauseSeconds: 60 });
    expect((await r.fx.core.searchJournal({ action: 'setting-change' }))[0]).toMatchObject({ operator: 'Admin Aigerim', detail: 'otp.ceiling_per_hour=20 was=10' });
  });

  it('confirmation rules: admins change them, bad rules are refused; a held disarm is answered 202 and decided by an operator', async () => {
    const r = await rig();
    await seedClient(r.fx);
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    const put = (token: string, url: string, payload: unknown) => r.app.inject({ method: 'PUT', url, headers: auth(token), payload: payload as Record<string, unknown> });
    expect((await put(r.operator, '/v1/admin/policy', { callback: { always: true } })).statusCode).toBe(403);
    const floor = await put(r.admin, '/v1/admin/policy', { otp: { disarm: ['phone'] } });
    expect(floor.statusCode).toBe(400);
    expect(floor.json().error.message).toMatch(/every client channel/);
    expect((await put(r.admin, '/v1/admin/policy', { callback: { windows: [{ from: '23:00', to: '6' }] } })).statusCode).toBe(400);
    const bad = await r.app.inject({ method: 'PUT', url: '/v1/admin/policy', headers: { ...auth(r.admin), 'content-type': 'application/json' }, payload: '{"callback":' });
    expect(bad.statusCode).toBe(400);
    expect((await r.app.inject({ method: 'GET', url: '/v1/admin/policy', headers: auth(r.operator) })).json().company.callback.windows).toEqual([]);
    const ok = await put(r.admin, '/v1/admin/policy', { callback: { windows: [{ from: '00:00', to: '00:00' }], recentRefusal: true } });
    expect(ok.json().company.callback).toMatchObject({ recentRefusal: true, newChannel: false });
    const own = await put(r.admin, '/v1/admin/clients/1/policy', { rules: { callback: { newChannel: true } } });
    expect(own.json().effective.callback).toMatchObject({ recentRefusal: true, newChannel: true });

    const token = await signIn(r);
    const d = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(token) });
    expect(d.statusCode).toBe(202);
    const c = await r.app.inject({ method: 'POST', url: `/v1/documents/${d.json().documentId}/confirm`, headers: auth(token), payload: { code: await r.fx.lastCode('+77011234567') } });
    expect(c.statusCode).toBe(202);
    expect(c.json()).toMatchObject({ action: 'disarm', held: true, object: { code: '1234', status: 'armed' } });
    const list = await r.app.inject({ method: 'GET', url: '/v1/admin/holds?open=true', headers: auth(r.operator) });
    expect(list.statusCode).toBe(200);
    const holds = list.json().holds;
    expect(holds).toEqual([expect.objectContaining({ id: c.json().hold, state: 'pending', objectCode: '1234', phone: '+77011234567' })]);
    expect(holds[0].reasons.split(',').sort()).toEqual(['new-channel', 'window']);
    const yes = await r.app.inject({ method: 'POST', url: `/v1/admin/holds/${c.json().hold}/confirm`, headers: auth(r.operator) });
    expect(yes.json()).toMatchObject({ changed: true, hold: { state: 'confirmed', decidedBy: 'Operator Dias' } });
    expect((await r.app.inject({ method: 'POST', url: `/v1/admin/holds/${c.json().hold}/refuse`, headers: auth(r.operator) })).statusCode).toBe(409);
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/holds/999/confirm', headers: auth(r.operator) })).statusCode).toBe(404);
    expect((await r.fx.core.getObject('1234')).status).toBe('disarmed');
    // an operator holds a document that waits for its code
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await put(r.admin, '/v1/admin/policy', { callback: { windows: [] } });
    await put(r.admin, '/v1/admin/clients/1/policy', { rules: null });
    const d2 = await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(token) });
    const held = await r.app.inject({ method: 'POST', url: `/v1/admin/documents/${d2.json().documentId}/hold`, headers: auth(r.operator) });
    expect(held.statusCode).toBe(201);
    expect(held.json().hold).toMatchObject({ state: 'awaiting-code', reasons: 'operator' });
    const c2 = await r.app.inject({ method: 'POST', url: `/v1/documents/${d2.json().documentId}/confirm`, headers: auth(token), payload: { code: await r.fx.lastCode('+77011234567') } });
    expect(c2.statusCode).toBe(202);
    expect((await r.app.inject({ method: 'POST', url: `/v1/admin/holds/${c2.json().hold}/refuse`, headers: auth(r.operator) })).json().hold.state).toBe('refused');
    expect((await r.fx.core.getObject('1234')).status).toBe('armed');
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/documents/not-a-document/hold', headers: auth(r.operator) })).statusCode).toBe(404);
    // the chat: the same rules, the same answer as by SMS
    await put(r.admin, '/v1/admin/clients/1/policy', { rules: { callback: { always: true } } });
    const chat = await signIn(r, '87011234567', 'chat');
    const say = async (text: string): Promise<string> => (await r.app.inject({ method: 'POST', url: '/v1/chat', headers: auth(chat), payload: { text } })).json().reply as string;
    expect(await say('снять 1234')).toContain('Код подтверждения отправлен');
    expect(await say(await r.fx.lastCode('+77011234567'))).toBe('Запрос принят. Для подтверждения позвоним на ваш доверенный номер.');
    expect((await r.fx.core.listHolds({ open: true }))[0]).toMatchObject({ channel: 'chat', state: 'pending', reasons: 'always,recent-refusal' }); // the operator refused one a moment ago
    expect((await r.fx.core.getObject('1234')).status).toBe('armed');
  });

  it('account and the public catalogue', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const t = await signIn(r);
    expect((await r.app.inject({ url: '/v1/account', headers: auth(t) })).json()).toMatchObject({ name: 'Test Client', balance: 0, suspended: false });
    const services = (await r.app.inject('/v1/services')).json().services as Array<{ code: string; name: { ru: string; kk: string } }>;
    expect(services.map((s) => s.code)).toEqual(['app', 'chat', 'robot', 'sms']);
    expect(services[0]?.name.kk).toBeTruthy();
  });

  it('blocking a number from the operators\' API ends its sessions at once', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const t = await signIn(r);
    expect((await r.app.inject({ url: '/v1/objects', headers: auth(t) })).statusCode).toBe(200);
    const b = await r.app.inject({ method: 'POST', url: '/v1/admin/numbers/87011234567/block', headers: auth(r.operator), payload: { reason: 'stolen' } });
    expect(b.json().number.state).toBe('blocked');
    expect((await r.app.inject({ url: '/v1/objects', headers: auth(t) })).statusCode).toBe(401);
    expect((await r.fx.core.searchJournal({ action: 'number-block' }))[0]).toMatchObject({ operator: 'Operator Dias', reason: 'stolen' });
    await r.app.inject({ method: 'POST', url: '/v1/admin/numbers/87011234567/unblock', headers: auth(r.operator) });
    expect((await r.app.inject({ url: '/v1/objects', headers: auth(t) })).statusCode).toBe(401);
  });

  it('operators: everything the CLI does, journalled with their name; roles; codes never revealed', async () => {
    const r = await rig();
    const h = auth(r.operator);
    expect((await r.app.inject({ url: '/v1/admin/clients' })).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/v1/admin/clients', headers: auth(await signInClient(r)) })).statusCode).toBe(401);
    const c = (await r.app.inject({ method: 'POST', url: '/v1/admin/clients', headers: h, payload: { name: 'Кайрат', lang: 'kk', balance: 100_000 } })).json();
    expect(c).toMatchObject({ name: 'Кайрат', lang: 'kk', balance: 100_000 });
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/objects', headers: h, payload: { clientId: c.id, code: '7001', address: 'Астана' } })).statusCode).toBe(201);
    const n = await r.app.inject({ method: 'POST', url: '/v1/admin/numbers', headers: h, payload: { clientId: c.id, phone: '8 777 123 45 67' } });
    expect(n.json().number.state).toBe('pending');
    const outbox = (await r.app.inject({ url: '/v1/admin/outbox', headers: h })).json().messages as Array<{ id: number; text: string }>;
    expect(outbox[0]?.text).toBe('[code hidden]');
    // paging back by id: the page before the newest message starts with the next older one
    const older = (await r.app.inject({ url: `/v1/admin/outbox?limit=1&before=${outbox[0]?.id}`, headers: h })).json().messages as Array<{ id: number }>;
    expect(older.map((m) => m.id)).toEqual(outbox.slice(1, 2).map((m) => m.id));
    expect((await r.app.inject({ url: '/v1/admin/outbox?before=x', headers: h })).statusCode).toBe(400);
    const code = await r.fx.lastCode('+77771234567');
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/numbers/87771234567/confirm', headers: h, payload: { code } })).json()).toMatchObject({ confirmed: true });
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/objects/7001/arm', headers: h })).json()).toMatchObject({ changed: true });
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/payments', headers: h, payload: { clientId: c.id, amount: 5_000, ref: 'bank-77' } })).json()).toMatchObject({ balance: 105_000, duplicate: false });
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/payments', headers: h, payload: { clientId: c.id, amount: 5_000, ref: 'bank-77' } })).json()).toMatchObject({ balance: 105_000, duplicate: true });
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/payments', headers: h, payload: { clientId: c.id, amount: -5 } })).statusCode).toBe(400);
    expect((await r.app.inject({ method: 'PATCH', url: '/v1/admin/services/sms', headers: h, payload: { smsFee: 2_000 } })).statusCode).toBe(403);
    expect((await r.app.inject({ method: 'PATCH', url: '/v1/admin/services/sms', headers: auth(r.admin), payload: { smsFee: 2_000 } })).statusCode).toBe(200);
    const journal = (await r.app.inject({ url: `/v1/admin/journal?client=${c.id}`, headers: h })).json().documents as Array<{ action: string; operator: string }>;
    expect(journal.map((d) => d.action)).toEqual(expect.arrayContaining(['client-add', 'object-add', 'number-add', 'confirm-number', 'arm', 'payment']));
    expect(journal.filter((d) => d.action !== 'confirm-number').every((d) => d.operator === 'Operator Dias')).toBe(true);
    expect((await r.app.inject({ url: '/v1/admin/journal/verify', headers: h })).json()).toMatchObject({ ok: true });
    expect((await r.app.inject({ method: 'POST', url: '/v1/admin/numbers', headers: h, payload: { clientId: c.id, phone: '8 777 123 45 67' } })).json().error.code).toBe('NUMBER_TAKEN');
  });

  it('monitoring intake: API key, idempotent by the sender\'s id', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const ev = { id: 'mc-1001', object: '1234', type: 'alarm', kind: 'burglary', zone: 3 };
    expect((await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', payload: ev })).statusCode).toBe(401);
    expect((await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: { 'x-api-key': 'wrong-key-1234567' }, payload: ev })).statusCode).toBe(401);
    const k = { 'x-api-key': 'monitoring-key-123' };
    const first = await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: ev });
    expect(first.statusCode).toBe(201);
    const again = await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: ev });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: first.json().id, duplicate: true });
    expect((await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: { ...ev, id: 'mc-2', object: '5555' } })).statusCode).toBe(404);
    expect((await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: { ...ev, id: 'mc-3', type: 'party' } })).statusCode).toBe(400);
    expect((await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: { id: 'mc-4', object: '1234', type: 'alarm' } })).statusCode).toBe(400);
    expect(r.fx.db.prepare('SELECT COUNT(*) AS n FROM monitoring_events').get()).toEqual({ n: 1 });
  });

  it('monitoring intake: a panel dated in the future is stored at its receipt and cannot silence the next alarm', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const k = { 'x-api-key': 'monitoring-key-123' };
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const arm = await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: { id: 'mc-a', object: '1234', type: 'arm', at: tomorrow } });
    expect(arm.statusCode).toBe(201);
    const far = await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: { id: 'mc-b', object: '1234', type: 'test', at: '9999-12-31T23:59:59Z' } });
    expect(far.statusCode).toBe(201);
    const alarm = await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: k, payload: { id: 'mc-c', object: '1234', type: 'alarm', kind: 'burglary' } });
    expect(alarm.statusCode).toBe(201);
    expect(alarm.json()).toMatchObject({ result: 'alarm' });
    expect((await r.fx.core.listOutbox({ limit: 10 })).filter((m) => m.kind === 'alarm')).toHaveLength(1);
    const latest = (r.fx.db.prepare('SELECT MAX(event_at) AS t FROM monitoring_events').get() as { t: string }).t;
    expect(Date.parse(latest)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse((await r.fx.core.getObject('1234')).statusSince)).toBeLessThanOrEqual(Date.now());
  });

  it('limits requests per address when configured', async () => {
    const r = await rig({ rateLimitPerMinute: 5 });
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await r.app.inject('/v1/services')).statusCode);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(codes.slice(5)).toEqual([429, 429]);
  });

  it('sign-in attempts are limited per address', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: `8701000${String(1000 + i)}` } })).statusCode);
    expect(statuses.filter((s) => s === 429).length).toBe(2);
  });

  it('no code, token or password in any log line', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const t = await signIn(r);
    await r.app.inject({ url: '/v1/objects', headers: auth(t) });
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const ctl = new AbortController();
    const res = await fetch(`${address}/v1/events?access_token=${t}`, { signal: ctl.signal });
    expect(res.status).toBe(200);
    ctl.abort();
    await r.app.inject({ url: '/v1/admin/clients', headers: auth(r.operator) });
    await new Promise((done) => setTimeout(done, 100));
    const all = r.logs.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(t);
    expect(all).not.toContain(r.operator);
    expect(all).not.toMatch(/"code":"\d{6}"/);
    expect(all).toContain('access_token=[redacted]');
    expect(findSecrets(all)).toEqual([]);
  });

  it('logging out ends the session\'s open event streams at once, not at their next heartbeat', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const t = await signIn(r);
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${address}/v1/events`, { headers: auth(t) });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const until = async (needle: string): Promise<void> => {
      while (!text.includes(needle)) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`stream ended without "${needle}": ${text}`);
        text += new TextDecoder().decode(chunk.value);
      }
    };
    await until('event: hello');
    expect((await r.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: auth(t) })).statusCode).toBe(204);
    // the heartbeat would take 15 s; the test's own 30 s limit would not tell them apart, so bound it here
    await Promise.race([until('event: revoked'), new Promise((_, reject) => setTimeout(() => reject(new Error('not revoked within 5 s')), 5_000))]);
    expect((await reader.read()).done).toBe(true);
  });

  it('SSE delivers a status change within a second and ends when the number is blocked', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const t = await signIn(r);
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const ctl = new AbortController();
    const res = await fetch(`${address}/v1/events`, { headers: auth(t), signal: ctl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const readUntil = async (needle: string, ms: number): Promise<number> => {
      const start = Date.now();
      while (!text.includes(needle)) {
        const left = ms - (Date.now() - start);
        if (left <= 0) throw new Error(`no "${needle}" within ${ms} ms: ${text}`);
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => setTimeout(() => resolve(null), left))]);
        if (chunk === null) continue;
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      return Date.now() - start;
    };
    await readUntil('event: hello', 2_000);
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '1234', operator: 'op' });
    await readUntil('"status":"armed"', 5_000);
    // a change made by another process (plain SQL here) is found by the watcher
    r.fx.db.prepare("UPDATE objects SET status = 'alarm', status_since = ? WHERE code = '1234'").run(new Date().toISOString());
    await readUntil('"status":"alarm"', 5_000);
    await r.fx.core.blockNumber({ phone: '87011234567', reason: 'lost', operator: 'op' });
    await readUntil('event: revoked', 5_000);
    ctl.abort();
  });
});

async function signInClient(r: Rig): Promise<string> {
  await seedClient(r.fx, { phone: '+77051112233', codes: ['5151'] });
  return await signIn(r, '87051112233');
}

describe('HTTP edges', () => {
  it('behind a trusted proxy each client has its own rate-limit bucket; an untrusted hop cannot pick one', async () => {
    const r = await rig({ rateLimitPerMinute: 3, trustProxy: ['127.0.0.1', '10.0.0.0/8'] });
    const get = async (headers: Record<string, string>, remoteAddress = '127.0.0.1'): Promise<number> =>
      (await r.app.inject({ url: '/v1/services', headers, remoteAddress })).statusCode;
    const a = { 'x-forwarded-for': '203.0.113.1' };
    expect([await get(a), await get(a), await get(a), await get(a)]).toEqual([200, 200, 200, 429]);
    // another client behind the same proxy (and through a second proxy hop) is not slowed down
    expect(await get({ 'x-forwarded-for': '203.0.113.2' })).toBe(200);
    expect(await get({ 'x-forwarded-for': '203.0.113.3' }, '10.1.2.3')).toBe(200);
    // a direct client that is not a proxy: its X-Forwarded-For is ignored
    const direct: number[] = [];
    for (let i = 0; i < 4; i++) direct.push(await get({ 'x-forwarded-for': `198.51.100.${i}` }, '192.0.2.50'));
    expect(direct).toEqual([200, 200, 200, 429]);
    // with no trusted proxy configured, nobody picks a bucket with X-Forwarded-For
    const plain = await rig({ rateLimitPerMinute: 2 });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await plain.app.inject({ url: '/v1/services', headers: { 'x-forwarded-for': `203.0.113.${i}` } })).statusCode);
    expect(codes).toEqual([200, 200, 429]);
  });

  it('/v1/auth/verify answers an unknown number exactly like a client\'s number with a wrong code', async () => {
    const r = await rig();
    await seedClient(r.fx);
    await r.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone: '87011234567' } });
    const code = await r.fx.lastCode('+77011234567');
    const wrongCode = code === '000000' ? '111111' : '000000';
    const known = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code: wrongCode } });
    const unknown = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87019998877', code: wrongCode } });
    const noCode = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code: wrongCode, channel: 'chat' } });
    expect(known.statusCode).toBe(401);
    expect({ status: unknown.statusCode, body: unknown.body }).toEqual({ status: known.statusCode, body: known.body });
    expect({ status: noCode.statusCode, body: noCode.body }).toEqual({ status: known.statusCode, body: known.body });
    // the core still counts: the code dies after 3 wrong tries
    await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code: wrongCode } });
    await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code: wrongCode } });
    const late = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', payload: { phone: '87011234567', code } });
    expect({ status: late.statusCode, body: late.body }).toEqual({ status: known.statusCode, body: known.body });
  });

  it('wrong codes from many addresses cannot lock the real client out of signing in', async () => {
    const r = await rig();
    await seedClient(r.fx);
    for (let i = 1; i <= 30; i++) {
      const res = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', remoteAddress: `198.51.100.${i}`, payload: { phone: '87011234567', code: String(100_000 + i) } });
      expect(res.statusCode).toBe(401);
    }
    const otp = await r.app.inject({ method: 'POST', url: '/v1/auth/otp', remoteAddress: '192.0.2.10', payload: { phone: '87011234567' } });
    expect(otp.statusCode).toBe(202);
    const ok = await r.app.inject({ method: 'POST', url: '/v1/auth/verify', remoteAddress: '192.0.2.10', payload: { phone: '87011234567', code: await r.fx.lastCode('+77011234567') } });
    expect(ok.statusCode).toBe(200);
    // one address still cannot guess on: 20 tries per 10 minutes
    const mine: number[] = [];
    for (let i = 0; i < 21; i++) mine.push((await r.app.inject({ method: 'POST', url: '/v1/auth/verify', remoteAddress: '198.51.100.200', payload: { phone: '87011234567', code: '123456' } })).statusCode);
    expect(mine.slice(19)).toEqual([401, 429]);
  });

  it('a monitoring key with any bytes or length is a 401, never a 500', async () => {
    const r = await rig();
    await seedClient(r.fx);
    const ev = { id: 'mc-1', object: '1234', type: 'test' };
    for (const key of ['monitoring-key-12é', 'мониторинг-ключ-1', 'k'.repeat(5_000), '']) {
      const res = await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: { 'x-api-key': key }, payload: ev });
      expect({ key: key.slice(0, 20), status: res.statusCode }).toEqual({ key: key.slice(0, 20), status: 401 });
    }
    expect(r.logs.join('')).not.toContain('request failed');
    expect((await r.app.inject({ method: 'POST', url: '/v1/monitoring/events', headers: { 'x-api-key': 'monitoring-key-123' }, payload: ev })).statusCode).toBe(201);
  });

  it('request ids are made by the service; a client\'s id is kept only when short and plain', async () => {
    const r = await rig();
    const huge = 'A'.repeat(10_000);
    const forged = 'x","level":60,"msg":"forged';
    const a = await r.app.inject({ url: '/v1/services', headers: { 'x-request-id': huge } });
    const b = await r.app.inject({ url: '/v1/services', headers: { 'x-request-id': forged } });
    const c = await r.app.inject({ url: '/v1/services', headers: { 'x-request-id': 'mobile-7f3a.42' } });
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
    expect(b.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
    expect(c.headers['x-request-id']).toBe('mobile-7f3a.42');
    const logs = r.logs.join('');
    expect(logs).not.toContain('A'.repeat(100));
    expect(logs).not.toContain('forged');
    expect(logs).toContain('"reqId":"mobile-7f3a.42"');
    expect(logs).toContain(`"reqId":"${String(a.headers['x-request-id'])}"`);
  });

  it('with ZHEDEL_METRICS_TOKEN, /metrics, /docs and /ready\'s details need it', async () => {
    const token = 'metrics-token-0123456789-abcdefghijkl';
    const r = await rig({ metricsToken: token });
    const bearerT = { authorization: `Bearer ${token}` };
    expect((await r.app.inject('/metrics')).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-é' } })).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/metrics', headers: bearerT })).body).toContain('zhedel_documents');
    expect((await r.app.inject('/docs/json')).statusCode).toBe(401);
    expect((await r.app.inject('/docs')).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/docs/json', headers: bearerT })).json().openapi).toBeTruthy();
    expect((await r.app.inject('/ready')).json()).toEqual({ ready: true });
    expect((await r.app.inject({ url: '/ready', headers: bearerT })).json()).toMatchObject({ ready: true, checks: { database: { ok: true } } });
    expect((await r.app.inject('/health')).statusCode).toBe(200);
  });

  it('without a metrics token only local direct requests see /metrics, /docs and /ready\'s details', async () => {
    const r = await rig();
    expect((await r.app.inject('/metrics')).statusCode).toBe(200);
    expect((await r.app.inject({ url: '/metrics', remoteAddress: '203.0.113.5' })).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/docs/json', remoteAddress: '203.0.113.5' })).statusCode).toBe(401);
    // relayed by a proxy on this host: not local
    expect((await r.app.inject({ url: '/metrics', headers: { 'x-forwarded-for': '203.0.113.5' } })).statusCode).toBe(401);
    expect((await r.app.inject({ url: '/ready', remoteAddress: '203.0.113.5' })).json()).toEqual({ ready: true });
  });

  it('GET /v1/documents lists only what the number may see', async () => {
    const r = await rig();
    const { clientId } = await seedClient(r.fx, { codes: ['1234', '5678'] });
    await r.fx.core.addNumber({ clientId, phone: '+77021112233', objectCodes: ['1234'], signed: true, operator: 'op' });
    await seedClient(r.fx, { phone: '+77051112233', codes: ['9999'] });
    const full = await signIn(r, '87011234567');
    const restricted = await signIn(r, '87021112233');
    expect((await r.app.inject({ method: 'POST', url: '/v1/objects/5678/arm', headers: auth(full) })).statusCode).toBe(200);
    expect((await r.app.inject({ method: 'POST', url: '/v1/objects/1234/arm', headers: auth(full) })).statusCode).toBe(200);
    await r.fx.core.operatorRequest({ action: 'arm', objectCode: '9999', operator: 'op' });
    r.fx.clock.advance(61_000);
    expect((await r.app.inject({ method: 'POST', url: '/v1/objects/1234/disarm', headers: auth(restricted) })).statusCode).toBe(202);
    type Doc = { phone: string | null; object: string | null; action: string };
    const seen = (await r.app.inject({ url: '/v1/documents', headers: auth(restricted) })).json().documents as Doc[];
    expect(seen.length).toBeGreaterThan(0);
    for (const d of seen) expect(d.phone === '+77021112233' || d.object === '1234').toBe(true);
    expect(seen.some((d) => d.object === '1234' && d.action === 'arm' && d.phone === '+77011234567')).toBe(true);
    expect(seen.some((d) => d.phone === '+77021112233')).toBe(true);
    expect(seen.some((d) => d.object === '5678' || d.object === '9999')).toBe(false);
    const fullSeen = (await r.app.inject({ url: '/v1/documents', headers: auth(full) })).json().documents as Doc[];
    expect(fullSeen.some((d) => d.object === '5678')).toBe(true);
    expect(fullSeen.some((d) => d.object === '9999' || d.phone === '+77051112233')).toBe(false);
  });

  it('event streams are capped per session and per address', async () => {
    const r = await rig({ streamsPerSession: 2, streamsPerAddress: 3 });
    await seedClient(r.fx);
    await seedClient(r.fx, { phone: '+77051112233', codes: ['5151'] });
    const t1 = await signIn(r);
    const t2 = await signIn(r, '87051112233');
    const address = await r.app.listen({ host: '127.0.0.1', port: 0 });
    const ctls: AbortController[] = [];
    const open = async (t: string): Promise<number> => {
      const ctl = new AbortController();
      ctls.push(ctl);
      const res = await fetch(`${address}/v1/events`, { headers: auth(t), signal: ctl.signal });
      if (res.status !== 200) await res.text();
      return res.status;
    };
    cleanups.push(() => ctls.forEach((c) => c.abort()));
    expect([await open(t1), await open(t1), await open(t1)]).toEqual([200, 200, 429]);
    expect([await open(t2), await open(t2)]).toEqual([200, 429]);
    // a closed stream frees its place
    (ctls[0] as AbortController).abort();
    const deadline = Date.now() + 5_000;
    let status = 429;
    while (status === 429 && Date.now() < deadline) status = await open(t2);
    expect(status).toBe(200);
  });
});

describe('call history over HTTP', () => {
  it('lists calls newest first with filters and pages; bad filters are refused with 400', async () => {
    const r = await rig();
    const base = await r.app.listen({ port: 0, host: '127.0.0.1' });
    const get = async (query: string, token: string | null = r.operator): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${base}/v1/admin/calls${query}`, token ? { headers: auth(token) } : {});
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    };
    await r.fx.core.callStarted({ id: 'in-1', direction: 'in', purpose: 'client', phone: '87011234567', objectCode: '1234' });
    await r.fx.core.callProgress({ id: 'in-1', actions: ['status 1234: armed'] });
    await r.fx.core.callEnded({ id: 'in-1', outcome: 'goodbye', actions: ['disarm 1234: done'] });
    await r.fx.core.callStarted({ id: 'out-1', direction: 'out', purpose: 'alarm', phone: '+77051112233', objectCode: '5678', eventId: null, round: 1 });
    await r.fx.core.callStarted({ id: 'in-2', direction: 'in', purpose: 'client', phone: null });

    expect((await get('', null)).status).toBe(401);
    const all = await get('');
    expect(all.status).toBe(200);
    expect((all.body.calls as Array<{ id: string }>).map((c) => c.id)).toEqual(['in-2', 'out-1', 'in-1']);
    const first = (await get('?phone=%2B7%20701%20123-45-67')).body.calls as Array<Record<string, unknown>>;
    expect(first).toEqual([expect.objectContaining({
      id: 'in-1', phone: '+77011234567', objectCode: '1234', outcome: 'goodbye', actions: ['status 1234: armed', 'disarm 1234: done'], endedAt: expect.any(String),
    })]);
    expect((await get('?object=5678')).body.calls).toEqual([expect.objectContaining({ id: 'out-1', purpose: 'alarm', round: 1, endedAt: null })]);
    expect(((await get('?purpose=client')).body.calls as Array<{ id: string }>).map((c) => c.id)).toEqual(['in-2', 'in-1']);
    const today = new Date().toISOString().slice(0, 10);
    expect(((await get(`?from=${today}T00:00:00Z&until=2999-01-01`)).body.calls as unknown[]).length).toBe(3);
    expect((await get('?until=2000-01-01')).body.calls).toEqual([]);
    // pages: a full page says where the next one starts
    const page = await get('?limit=2');
    expect((page.body.calls as Array<{ id: string }>).map((c) => c.id)).toEqual(['in-2', 'out-1']);
    expect(((await get(`?limit=2&before=${page.body.before as number}`)).body.calls as Array<{ id: string }>).map((c) => c.id)).toEqual(['in-1']);

    for (const bad of ['?phone=12345', '?from=yesterday', '?from=2026-02-30', '?until=2026-03-01T10:00', '?purpose=spam', '?object=12', '?limit=0', '?limit=x', '?before=0', '?colour=red',
      '?from=2026-03-02&until=2026-03-01']) {
      const res = await get(bad);
      expect(res.status, bad).toBe(400);
      expect((res.body.error as { code: string }).code, bad).toBe(bad.startsWith('?phone') ? 'BAD_PHONE' : 'BAD_INPUT');
    }
  });
});
