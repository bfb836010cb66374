import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../core/access.ts';
import type { Core, DuressStatus } from '../core/core.ts';
import type { OperatorRow } from '../core/ports.ts';
import { AppError } from '../domain/errors.ts';
import { ALARM_KINDS, BLOCK_REASONS, MONITORING_TYPES } from '../domain/types.ts';
import type { BlockReason, Lang } from '../domain/types.ts';
import { ERROR_RESPONSES, bearer, sameSecret, streamToken } from './common.ts';
import type { LiveHub } from './common.ts';
import { openStream } from './live.ts';
import type { StatusWatcher, StreamRegistry } from './live.ts';
import { objectOut, refusal } from './routes-client.ts';

const any = { type: 'object', additionalProperties: true } as const;
const ok = { 200: any, 201: any, ...ERROR_RESPONSES };
const phoneParam = { type: 'object', properties: { phone: { type: 'string', minLength: 1, maxLength: 32 } } } as const;
const codeParam = { type: 'object', properties: { code: { type: 'string', pattern: '^\\d{3,8}$' } } } as const;
const idParam = { type: 'object', properties: { id: { type: 'string', pattern: '^\\d{1,12}$' } } } as const;
const nameParam = { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } } as const;


/**
 * Everything the operators' command line does, over HTTP for the console, under /v1/admin/…
 * with an operator's bearer token. Every change is a journalled document naming the operator.
 * Also the monitoring centre's intake, with its API key.
 */
export async function adminRoutes(app: FastifyInstance, d: {
  core: Core; access: Access; hub: LiveHub; watcher: StatusWatcher | null; streams: StreamRegistry; monitoringKey: string | null;
}): Promise<void> {
  const { core, access } = d;
  const op = async (req: FastifyRequest): Promise<OperatorRow> => access.authenticateOperator(bearer(req));
  const admin = async (req: FastifyRequest): Promise<OperatorRow> => {
    const o = await op(req);
    if (o.role !== 'admin') throw new AppError('FORBIDDEN', 'this needs the admin role');
    return o;
  };
  const sec = { security: [{ operator: [] }], tags: ['operators'] };

  app.get('/v1/admin/clients', { schema: { ...sec, response: ok } }, async (req) => {
    await op(req);
    return { clients: await core.listClients() };
  });
  app.post('/v1/admin/clients', {
    schema: {
      ...sec, response: ok,
      body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, lang: { type: 'string', enum: ['ru', 'kk'] }, balance: { type: 'integer', minimum: 0 } } },
    },
  }, async (req, reply) => {
    const o = await op(req);
    const b = req.body as { name: string; lang?: Lang; balance?: number };
    return reply.code(201).send(await core.addClient({ name: b.name, ...(b.lang ? { lang: b.lang } : {}), balance: b.balance ?? 0, operator: o.name }));
  });
  app.get('/v1/admin/clients/:id', { schema: { ...sec, params: idParam, response: ok } }, async (req) => {
    await op(req);
    const id = Number((req.params as { id: string }).id);
    return {
      client: await core.getClient(id), objects: (await core.listObjects(id)).map(objectOut), numbers: await core.listNumbers(id), services: await core.subscriptions(id),
      duress: shown(await core.duressStatus(id)),
    };
  });

  // ---- duress code: set from the client's signed application, cleared; only whether one is set is ever shown
  const shown = (st: DuressStatus): { set: boolean; since: string | null } => ({ set: st.set, since: st.since });
  app.put('/v1/admin/clients/:id/duress', {
    schema: {
      ...sec, params: idParam, response: ok, summary: 'Set a client\'s duress code from the client\'s signed application (signed: true)',
      body: { type: 'object', additionalProperties: false, required: ['code', 'signed'], properties: { code: { type: 'string', maxLength: 16 }, signed: { type: 'boolean' } } },
    },
  }, async (req) => {
    const o = await op(req);
    const b = req.body as { code: string; signed: boolean };
    return { duress: shown(await core.setDuressCode({ clientId: Number((req.params as { id: string }).id), code: b.code, signed: b.signed, operator: o.name })) };
  });
  app.delete('/v1/admin/clients/:id/duress', { schema: { ...sec, params: idParam, response: ok, summary: 'Clear a client\'s duress code' } }, async (req) => {
    const o = await op(req);
    return { duress: shown(await core.clearDuressCode({ clientId: Number((req.params as { id: string }).id), operator: o.name })) };
  });

  app.get('/v1/admin/objects', { schema: { ...sec, response: ok } }, async (req) => {
    await op(req);
    return { objects: (await core.listObjects()).map((o) => ({ ...objectOut(o), clientId: o.clientId })) };
  });
  app.post('/v1/admin/objects', {
    schema: {
      ...sec, response: ok,
      body: { type: 'object', additionalProperties: false, required: ['clientId', 'code', 'address'], properties: { clientId: { type: 'integer', minimum: 1 }, code: { type: 'string', pattern: '^\\d{3,8}$' }, address: { type: 'string', minLength: 1, maxLength: 300 }, callout: { type: 'boolean' } } },
    },
  }, async (req, reply) => {
    const o = await op(req);
    const b = req.body as { clientId: number; code: string; address: string; callout?: boolean };
    return reply.code(201).send(objectOut(await core.addObject({ clientId: b.clientId, code: b.code, address: b.address, calloutEnabled: b.callout ?? false, operator: o.name })));
  });
  app.get('/v1/admin/objects/:code', { schema: { ...sec, params: codeParam, response: ok } }, async (req) => {
    const o = await op(req);
    const r = await core.operatorRequest({ action: 'status', objectCode: (req.params as { code: string }).code, operator: o.name });
    if (r.kind !== 'status' || !r.objects[0]) throw refusal('no-object');
    return objectOut(r.objects[0]);
  });
  for (const action of ['arm', 'disarm'] as const) {
    app.post(`/v1/admin/objects/:code/${action}`, { schema: { ...sec, params: codeParam, response: ok } }, async (req) => {
      const o = await op(req);
      const r = await core.operatorRequest({ action, objectCode: (req.params as { code: string }).code, operator: o.name });
      if (r.kind !== 'done') throw refusal('no-object');
      return { object: objectOut(r.object), changed: r.changed, document: r.seq };
    });
  }

  app.post('/v1/admin/numbers', {
    schema: {
      ...sec, response: ok,
      body: {
        type: 'object', additionalProperties: false, required: ['clientId', 'phone'],
        properties: { clientId: { type: 'integer', minimum: 1 }, phone: { type: 'string', maxLength: 32 }, objects: { type: 'array', items: { type: 'string', pattern: '^\\d{3,8}$' }, maxItems: 100 }, signed: { type: 'boolean' } },
      },
    },
  }, async (req, reply) => {
    const o = await op(req);
    const b = req.body as { clientId: number; phone: string; objects?: string[]; signed?: boolean };
    const r = await core.addNumber({ clientId: b.clientId, phone: b.phone, objectCodes: b.objects ?? null, signed: b.signed ?? false, operator: o.name });
    return reply.code(201).send({ number: r.number, documentId: r.challengeId });
  });
  app.post('/v1/admin/numbers/:phone/confirm', {
    schema: { ...sec, params: phoneParam, response: ok, body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', maxLength: 16 } } } },
  }, async (req) => {
    const o = await op(req);
    const r = await core.confirmNumber({ phone: (req.params as { phone: string }).phone, code: (req.body as { code: string }).code, operator: o.name });
    if (r.kind === 'refused') throw refusal(r.reason, r.attemptsLeft !== undefined ? { attemptsLeft: r.attemptsLeft } : undefined);
    return { confirmed: true, document: r.seq };
  });
  app.post('/v1/admin/numbers/:phone/resend', { schema: { ...sec, params: phoneParam, response: ok } }, async (req) => {
    const o = await op(req);
    return await core.resendConfirmation({ phone: (req.params as { phone: string }).phone, operator: o.name });
  });
  app.post('/v1/admin/numbers/:phone/change', {
    schema: { ...sec, params: phoneParam, response: ok, body: { type: 'object', additionalProperties: false, required: ['to'], properties: { to: { type: 'string', maxLength: 32 }, signed: { type: 'boolean' } } } },
  }, async (req) => {
    const o = await op(req);
    const b = req.body as { to: string; signed?: boolean };
    const r = await core.changeNumber({ phone: (req.params as { phone: string }).phone, to: b.to, signed: b.signed ?? false, operator: o.name });
    return { number: r.number, documentId: r.challengeId };
  });
  app.post('/v1/admin/numbers/:phone/block', {
    schema: { ...sec, params: phoneParam, response: ok, body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', enum: [...BLOCK_REASONS] } } } },
  }, async (req) => {
    const o = await op(req);
    return { number: await core.blockNumber({ phone: (req.params as { phone: string }).phone, reason: (req.body as { reason: BlockReason }).reason, operator: o.name }) };
  });
  app.post('/v1/admin/numbers/:phone/unblock', { schema: { ...sec, params: phoneParam, response: ok } }, async (req) => {
    const o = await op(req);
    return { number: await core.unblockNumber({ phone: (req.params as { phone: string }).phone, operator: o.name }) };
  });
  app.delete('/v1/admin/numbers/:phone', { schema: { ...sec, params: phoneParam, response: ok } }, async (req) => {
    const o = await op(req);
    return { number: await core.removeNumber({ phone: (req.params as { phone: string }).phone, operator: o.name }) };
  });

  app.post('/v1/admin/payments', {
    schema: {
      ...sec, response: ok,
      body: { type: 'object', additionalProperties: false, required: ['clientId', 'amount'], properties: { clientId: { type: 'integer', minimum: 1 }, amount: { type: 'integer', minimum: 1, description: 'tiyn' }, ref: { type: 'string', minLength: 1, maxLength: 100 } } },
    },
  }, async (req, reply) => {
    const o = await op(req);
    const b = req.body as { clientId: number; amount: number; ref?: string };
    const r = await core.pay({ clientId: b.clientId, amount: b.amount, operator: o.name, ...(b.ref ? { ref: b.ref } : {}) });
    return reply.code(r.duplicate ? 200 : 201).send({ balance: r.client.balance, duplicate: r.duplicate });
  });

  app.get('/v1/admin/services', { schema: { ...sec, response: ok } }, async (req) => {
    await op(req);
    return { services: await core.services() };
  });
  app.patch('/v1/admin/services/:code', {
    schema: {
      ...sec, response: ok, params: { type: 'object', properties: { code: { type: 'string', pattern: '^[a-z]{1,20}$' } } },
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { monthlyFee: { type: 'integer', minimum: 0 }, smsFee: { type: 'integer', minimum: 0 } } },
    },
  }, async (req) => {
    const o = await admin(req);
    const b = req.body as { monthlyFee?: number; smsFee?: number };
    await core.setTariff({ service: (req.params as { code: string }).code, ...b, operator: o.name });
    return { services: await core.services() };
  });

  app.get('/v1/admin/otp/ceiling', { schema: { ...sec, summary: 'The ceiling on code SMS per number per hour and how it is shared', response: ok } }, async (req) => {
    await op(req);
    return await core.otpLimits();
  });
  app.put('/v1/admin/otp/ceiling', {
    schema: {
      ...sec, summary: 'Change the ceiling on code SMS per number per hour (admin)', response: ok,
      body: { type: 'object', additionalProperties: false, required: ['perHour'], properties: { perHour: { type: 'integer', minimum: 1, maximum: 1000 } } },
    },
  }, async (req) => {
    const o = await admin(req);
    return await core.setOtpCeiling({ perHour: (req.body as { perHour: number }).perHour, operator: o.name });
  });

  // ---- confirmation rules (agreement 5.10) and documents held for confirmation
  const rulesBody = { type: 'object', additionalProperties: true } as const;
  app.get('/v1/admin/policy', {
    schema: {
      ...sec, summary: 'The confirmation rules: the company\'s, and with ?client= that client\'s own and the two merged', response: ok,
      querystring: { type: 'object', additionalProperties: false, properties: { client: { type: 'string', pattern: '^\\d{1,12}$' } } },
    },
  }, async (req) => {
    await op(req);
    const q = req.query as { client?: string };
    return await core.confirmationRules(q.client ? Number(q.client) : undefined);
  });
  app.put('/v1/admin/policy', {
    schema: { ...sec, summary: 'Change the company\'s confirmation rules (admin); fields left out keep their value', body: rulesBody, response: ok },
  }, async (req) => {
    const o = await admin(req);
    return { company: await core.setCompanyRules({ rules: req.body, operator: o.name }) };
  });
  app.put('/v1/admin/clients/:id/policy', {
    schema: {
      ...sec, summary: 'A client\'s own stricter rules (admin; a signed application); {"rules": null} clears them', params: idParam, response: ok,
      body: { type: 'object', additionalProperties: false, required: ['rules'], properties: { rules: { anyOf: [rulesBody, { type: 'null' }] } } },
    },
  }, async (req) => {
    const o = await admin(req);
    const id = Number((req.params as { id: string }).id);
    await core.setClientRules({ clientId: id, rules: (req.body as { rules: unknown }).rules, operator: o.name });
    return await core.confirmationRules(id);
  });
  app.get('/v1/admin/holds', {
    schema: {
      ...sec, summary: 'Requests held for confirmation, newest first (?open=true: undecided only)', response: ok,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { open: { type: 'string', enum: ['true', 'false'] }, client: { type: 'string', pattern: '^\\d{1,12}$' }, limit: { type: 'string', pattern: '^\\d{1,3}$' } },
      },
    },
  }, async (req) => {
    await op(req);
    const q = req.query as { open?: string; client?: string; limit?: string };
    return { holds: await core.listHolds({ ...(q.open === 'true' ? { open: true } : {}), ...(q.client ? { clientId: Number(q.client) } : {}), ...(q.limit ? { limit: Number(q.limit) } : {}) }) };
  });
  app.get('/v1/admin/alerts', {
    schema: {
      ...sec, summary: 'Operators\' alerts, newest first: open ones, or with ?all=true every one', response: ok,
      querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'string', enum: ['true', 'false'] }, limit: { type: 'string', pattern: '^\\d{1,3}$' } } },
    },
  }, async (req) => {
    await op(req);
    const q = req.query as { all?: string; limit?: string };
    return { alerts: await core.listAlerts(q.all !== 'true', q.limit ? Number(q.limit) : 100) };
  });
  app.post('/v1/admin/alerts/:id/ack', { schema: { ...sec, summary: 'Acknowledge an alert; journalled with the operator\'s name', params: idParam, response: ok } }, async (req) => {
    const o = await op(req);
    await core.ackAlert({ id: Number((req.params as { id: string }).id), operator: o.name });
    return { acknowledged: true };
  });
  app.get('/v1/admin/holds/:id', { schema: { ...sec, params: idParam, response: ok } }, async (req) => {
    await op(req);
    return { hold: await core.getHold(Number((req.params as { id: string }).id)) };
  });
  for (const decision of ['confirm', 'refuse'] as const) {
    app.post(`/v1/admin/holds/:id/${decision}`, {
      schema: { ...sec, summary: `${decision === 'confirm' ? 'Confirm (and execute)' : 'Refuse'} a held request`, params: idParam, response: ok },
    }, async (req) => {
      const o = await op(req);
      const r = await core.decideHold(Number((req.params as { id: string }).id), { decision, operator: o.name });
      if (!r.changed) throw new AppError('CONFLICT', `the request was already decided (${r.hold.state})`);
      return r;
    });
  }
  app.post('/v1/admin/documents/:id/hold', {
    schema: {
      ...sec, summary: 'Hold a document that waits for its code: once the code comes back it waits for confirmation too', response: ok,
      params: { type: 'object', properties: { id: { type: 'string', minLength: 8, maxLength: 64 } } },
    },
  }, async (req, reply) => {
    const o = await op(req);
    return reply.code(201).send({ hold: await core.holdDocument({ challengeId: (req.params as { id: string }).id, operator: o.name }) });
  });

  app.get('/v1/admin/journal', {
    schema: {
      ...sec, response: ok,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { client: { type: 'string', pattern: '^\\d{1,12}$' }, phone: { type: 'string', maxLength: 32 }, object: { type: 'string', pattern: '^\\d{3,8}$' }, action: { type: 'string', maxLength: 40 }, channel: { type: 'string', maxLength: 20 }, outcome: { type: 'string', maxLength: 20 }, before: { type: 'string', pattern: '^\\d{1,12}$' }, limit: { type: 'string', pattern: '^\\d{1,4}$' } },
      },
    },
  }, async (req) => {
    await op(req);
    const q = req.query as Record<string, string | undefined>;
    const phone = q.phone ? (await core.identify(q.phone)).phone ?? q.phone : undefined;
    return {
      documents: await core.searchJournal({
        limit: Math.min(Number(q.limit ?? 100), 1000),
        ...(q.client ? { clientId: Number(q.client) } : {}), ...(phone ? { phone } : {}), ...(q.object ? { objectCode: q.object } : {}),
        ...(q.action ? { action: q.action } : {}), ...(q.channel ? { channel: q.channel } : {}), ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(q.before ? { beforeSeq: Number(q.before) } : {}),
      }),
    };
  });
  app.get('/v1/admin/journal/verify', { schema: { ...sec, response: ok } }, async (req) => {
    await op(req);
    return await core.verifyJournal();
  });
  app.get('/v1/admin/outbox', {
    schema: {
      ...sec, response: ok,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { state: { type: 'string', maxLength: 20 }, limit: { type: 'string', pattern: '^\\d{1,4}$' }, before: { type: 'string', pattern: '^\\d{1,12}$' } },
      },
    },
  }, async (req) => {
    await op(req);
    const q = req.query as { state?: string; limit?: string; before?: string };
    // newest first; `before` pages back by id; codes are never revealed over HTTP
    const rows = await core.listOutbox({
      limit: Number(q.limit ?? 100), reveal: false, ...(q.state ? { state: q.state } : {}), ...(q.before ? { before: Number(q.before) } : {}),
    });
    return { messages: rows.map(({ bodyEnc: _e, body: _b, ...r }) => r) };
  });
  // Call history: incoming robot calls and call-outs, newest first; `before` pages back by seq.
  app.get('/v1/admin/calls', {
    schema: {
      ...sec, summary: 'Call history: robot calls, alarm call-outs, call-backs, newest first', response: ok,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          object: { type: 'string', pattern: '^\\d{3,8}$' }, phone: { type: 'string', minLength: 1, maxLength: 32 },
          from: { type: 'string', minLength: 1, maxLength: 40 }, until: { type: 'string', minLength: 1, maxLength: 40 },
          purpose: { type: 'string', minLength: 1, maxLength: 32 }, limit: { type: 'string', pattern: '^\\d{1,4}$' }, before: { type: 'string', pattern: '^\\d{1,15}$' },
        },
      },
    },
  }, async (req) => {
    await op(req);
    const q = req.query as Record<string, string | undefined>;
    const limit = Number(q.limit ?? 100);
    const calls = await core.listCalls({
      limit, ...(q.object ? { objectCode: q.object } : {}), ...(q.phone ? { phone: q.phone } : {}), ...(q.purpose ? { purpose: q.purpose } : {}),
      ...(q.from ? { from: q.from } : {}), ...(q.until ? { until: q.until } : {}), ...(q.before ? { before: Number(q.before) } : {}),
    });
    return { calls, before: calls.length === limit ? calls[calls.length - 1]?.seq ?? null : null };
  });
  app.get('/v1/admin/operators', { schema: { ...sec, response: ok } }, async (req) => {
    await admin(req);
    return { operators: await access.listOperators() };
  });
  // Disable, enable, rotate: at once for every request and every open event stream.
  // no body, or an empty object: nothing else is accepted
  const noBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;
  const nameOf = (req: FastifyRequest): string => (req.params as { name: string }).name;
  const stateOf = async (o: OperatorRow): Promise<OperatorRow & { state: string }> => ({ ...o, state: await access.operatorState(o) });
  app.post('/v1/admin/operators/:name/disable', {
    schema: { ...sec, params: nameParam, body: noBody, response: ok, summary: 'Disable an operator: their token answers 401 at once, open streams end (admin)' },
  }, async (req) => {
    const a = await admin(req);
    const r = await access.disableOperator({ name: nameOf(req), by: a.name });
    await d.streams.recheck(); // this process's streams end at once; others see the change marker move
    return { operator: await stateOf(r.operator), changed: r.changed };
  });
  app.post('/v1/admin/operators/:name/enable', {
    schema: { ...sec, params: nameParam, body: noBody, response: ok, summary: 'Enable a disabled operator (admin)' },
  }, async (req) => {
    const a = await admin(req);
    const r = await access.enableOperator({ name: nameOf(req), by: a.name });
    return { operator: await stateOf(r.operator), changed: r.changed };
  });
  app.post('/v1/admin/operators/:name/rotate', {
    schema: { ...sec, params: nameParam, body: noBody, response: ok, summary: 'A new token for the operator, shown only in this answer; the old one answers 401 at once (admin)' },
  }, async (req) => {
    const a = await admin(req);
    const r = await access.rotateOperator({ name: nameOf(req), by: a.name });
    await d.streams.recheck(); // this process's streams end at once; others see the change marker move
    return { operator: await stateOf(r.operator), token: r.token, expiresAt: r.operator.tokenExpiresAt };
  });

  app.get('/v1/admin/events', { schema: { ...sec, summary: 'Server-Sent Events: every status change and number state change' } }, async (req, reply) => {
    const token = streamToken(req);
    const o = await access.authenticateOperator(token);
    const alive = async (): Promise<boolean> => {
      try {
        await access.authenticateOperator(token);
        return true;
      } catch {
        return false;
      }
    };
    openStream(req, reply, {
      hub: d.hub, watcher: d.watcher, hello: { operator: o.name, role: o.role }, alive, streams: d.streams, key: `operator:${o.id}`,
      filter: (e) => {
        switch (e.type) {
          case 'object-status': return { object: e.objectCode, status: e.status, since: e.since, client: e.clientId };
          case 'number-state': return { phone: e.phone, state: e.state, client: e.clientId };
          case 'alarm': return { object: e.objectCode, kind: e.kind, zone: e.zone, at: e.at, client: e.clientId };
          case 'operator-alert': return { id: e.id, kind: e.kind, object: e.objectCode, detail: e.detail };
          case 'hold': return { id: e.id, object: e.objectCode, action: e.action, state: e.state, client: e.clientId };
        }
      },
    });
  });

  // The monitoring centre's systems: events, idempotent by the sender's event id.
  app.post('/v1/monitoring/events', {
    schema: {
      tags: ['monitoring'], security: [{ monitoring: [] }], response: ok,
      body: {
        type: 'object', additionalProperties: false, required: ['id', 'object', 'type'],
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 100 }, object: { type: 'string', pattern: '^\\d{3,8}$' },
          type: { type: 'string', enum: [...MONITORING_TYPES] }, kind: { type: 'string', enum: [...ALARM_KINDS] },
          zone: { type: 'integer', minimum: 0, maximum: 9999 }, at: { type: 'string', format: 'date-time' },
        },
      },
    },
  }, async (req, reply) => {
    // any wrong key, whatever its bytes or length, is a 401
    if (!sameSecret(req.headers['x-api-key'], d.monitoringKey)) {
      throw new AppError('UNAUTHENTICATED', 'monitoring API key required');
    }
    const b = req.body as { id: string; object: string; type: string; kind?: string; zone?: number; at?: string };
    if (b.type === 'alarm' && !b.kind) throw new AppError('BAD_INPUT', 'an alarm needs its kind');
    const r = await core.recordMonitoringEvent({ sourceId: b.id, objectCode: b.object, type: b.type, kind: b.kind ?? null, zone: b.zone ?? null, eventAt: b.at ?? null });
    return reply.code(r.duplicate ? 200 : 201).send({ id: r.row.id, duplicate: r.duplicate, result: r.row.result });
  });
  // ---------------------------------------------------------------- alarm panels (SIA DC-09)

  app.get('/v1/admin/panels', { schema: { ...sec, summary: 'Panel accounts: object, encryption (never the key), supervision, link, last heard', response: ok } }, async (req) => {
    await op(req);
    return { panels: await core.listPanels() };
  });
  app.get('/v1/admin/objects/:code/panel', { schema: { ...sec, summary: 'The object\'s panel account (null: none)', params: codeParam, response: ok } }, async (req) => {
    await op(req);
    return { panel: await core.getPanel((req.params as { code: string }).code) };
  });
  app.put('/v1/admin/objects/:code/panel', {
    schema: {
      ...sec, summary: 'Registers or changes the object\'s panel account (admin). key: hex AES key; null: clear; absent: keep the account\'s key', params: codeParam, response: ok,
      body: {
        type: 'object', additionalProperties: false, required: ['account'],
        properties: {
          account: { type: 'string', pattern: '^[0-9A-Fa-f]{3,16}$' },
          key: { anyOf: [{ type: 'string', pattern: '^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{64})$' }, { type: 'null' }] },
          supervisionS: { type: 'integer', minimum: 60, maximum: 604_800 },
        },
      },
    },
  }, async (req) => {
    const o = await admin(req);
    const b = req.body as { account: string; key?: string | null; supervisionS?: number };
    return {
      panel: await core.setPanel({
        objectCode: (req.params as { code: string }).code, account: b.account, ...(b.key !== undefined ? { key: b.key } : {}),
        ...(b.supervisionS !== undefined ? { supervisionS: b.supervisionS } : {}), operator: o.name,
      }),
    };
  });
  app.delete('/v1/admin/objects/:code/panel', { schema: { ...sec, summary: 'The object no longer reports over DC-09 (admin)', params: codeParam, response: ok } }, async (req) => {
    const o = await admin(req);
    await core.removePanel({ objectCode: (req.params as { code: string }).code, operator: o.name });
    return { removed: true };
  });

  // ---------------------------------------------------------------- schedules

  const clock = { type: ['string', 'null'], pattern: '^([01]?\\d|2[0-3]):[0-5]\\d$' } as const;
  const dateParam = { type: 'object', properties: { code: codeParam.properties.code, date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } } } as const;
  app.get('/v1/admin/objects/:code/schedule', { schema: { ...sec, summary: 'The object\'s opening/closing schedule (null: none)', params: codeParam, response: ok } }, async (req) => {
    await op(req);
    return { schedule: await core.getSchedule((req.params as { code: string }).code) };
  });
  app.put('/v1/admin/objects/:code/schedule', {
    schema: {
      ...sec, summary: 'Sets the weekly rules (exceptions stay) and whether an off-schedule disarm is told by SMS', params: codeParam, response: ok,
      body: {
        type: 'object', additionalProperties: false, required: ['days'],
        properties: {
          days: {
            type: 'array', minItems: 1, maxItems: 7,
            items: { type: 'object', additionalProperties: false, required: ['weekday'], properties: { weekday: { type: 'integer', minimum: 1, maximum: 7 }, armBy: clock, openFrom: clock } },
          },
          notifyOffSchedule: { type: 'boolean' },
        },
      },
    },
  }, async (req) => {
    const o = await op(req);
    const b = req.body as { days: Array<{ weekday: number; armBy?: string | null; openFrom?: string | null }>; notifyOffSchedule?: boolean };
    const days = b.days.map((x) => ({ weekday: x.weekday, armBy: x.armBy ?? null, openFrom: x.openFrom ?? null }));
    return { schedule: await core.setSchedule({ objectCode: (req.params as { code: string }).code, days, ...(b.notifyOffSchedule !== undefined ? { notifyOffSchedule: b.notifyOffSchedule } : {}), operator: o.name }) };
  });
  app.delete('/v1/admin/objects/:code/schedule', { schema: { ...sec, summary: 'Removes the schedule and its exceptions', params: codeParam, response: ok } }, async (req) => {
    const o = await op(req);
    await core.clearSchedule({ objectCode: (req.params as { code: string }).code, operator: o.name });
    return { cleared: true };
  });
  app.put('/v1/admin/objects/:code/schedule/exceptions/:date', {
    schema: {
      ...sec, summary: 'Sets the exception of one date: closed all day, or other times', params: dateParam, response: ok,
      body: {
        type: 'object', additionalProperties: false,
        properties: { closed: { type: 'boolean' }, armBy: clock, openFrom: clock, note: { type: ['string', 'null'], maxLength: 100 } },
      },
    },
  }, async (req) => {
    const o = await op(req);
    const p = req.params as { code: string; date: string };
    const b = (req.body ?? {}) as { closed?: boolean; armBy?: string | null; openFrom?: string | null; note?: string | null };
    return { schedule: await core.addScheduleException({ objectCode: p.code, date: p.date, closed: b.closed ?? false, armBy: b.armBy ?? null, openFrom: b.openFrom ?? null, note: b.note ?? null, operator: o.name }) };
  });
  app.delete('/v1/admin/objects/:code/schedule/exceptions/:date', { schema: { ...sec, summary: 'Removes the exception of one date', params: dateParam, response: ok } }, async (req) => {
    const o = await op(req);
    const p = req.params as { code: string; date: string };
    return { schedule: await core.removeScheduleException({ objectCode: p.code, date: p.date, operator: o.name }) };
  });
}
