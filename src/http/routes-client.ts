import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access, ClientSession } from '../core/access.ts';
import { answerText } from '../core/conversation.ts';
import type { ClientHttpCore, RateLimits } from '../core/channels.ts';
import type { ConfirmResult, RequestResult } from '../core/core.ts';
import { AppError } from '../domain/errors.ts';
import { parsePhone } from '../domain/phone.ts';
import type { ObjectView } from '../domain/types.ts';
import { ERROR_RESPONSES, bearer, streamToken } from './common.ts';
import type { LiveHub } from './common.ts';
import { openStream } from './live.ts';
import type { StatusWatcher, StreamRegistry } from './live.ts';

const phoneSchema = { type: 'string', minLength: 1, maxLength: 32 } as const;
const codeSchema = { type: 'string', minLength: 1, maxLength: 16 } as const;
const objectSchema = {
  type: 'object',
  properties: {
    code: { type: 'string' }, address: { type: 'string' }, status: { type: 'string', enum: ['armed', 'disarmed', 'alarm', 'no-link'] },
    since: { type: 'string' },
  },
  required: ['code', 'address', 'status', 'since'],
} as const;

const clockOut = { type: ['string', 'null'] } as const;
const scheduleOutSchema = {
  type: 'object',
  properties: {
    object: { type: 'string' },
    schedule: {
      type: ['object', 'null'],
      properties: {
        days: { type: 'array', items: { type: 'object', properties: { weekday: { type: 'integer' }, armBy: clockOut, openFrom: clockOut } } },
        notifyOffSchedule: { type: 'boolean' },
        exceptions: { type: 'array', items: { type: 'object', properties: { date: { type: 'string' }, closed: { type: 'boolean' }, armBy: clockOut, openFrom: clockOut, note: clockOut } } },
      },
    },
    text: { type: 'string' },
  },
  required: ['object', 'schedule'],
} as const;

export function objectOut(o: ObjectView): { code: string; address: string; status: string; since: string } {
  return { code: o.code, address: o.address, status: o.status, since: o.statusSince };
}

/**
 * A per-address limit for sign-in (codes asked, codes tried), counted in the database so that
 * it holds across every instance behind the load balancer.
 */
function attempts(core: RateLimits, name: string, max: number, windowMs: number): { take(address: string): Promise<boolean> } {
  return { take: (address) => core.rateHit([{ key: `${name}:${address.slice(0, 100)}`, max, windowMs }], new Date()) };
}

const REFUSAL_ERRORS: Record<string, { code: ConstructorParameters<typeof AppError>[0]; message: string }> = {
  'no-object': { code: 'OBJECT_NOT_FOUND', message: 'no such object' },
  'object-not-allowed': { code: 'OBJECT_NOT_FOUND', message: 'no such object' },
  'object-ambiguous': { code: 'BAD_INPUT', message: 'say which object' },
  'rate-limited': { code: 'RATE_LIMITED', message: 'a code was sent recently; try later' },
  suspended: { code: 'SERVICE_SUSPENDED', message: 'services are suspended until payment' },
  blocked: { code: 'UNAUTHENTICATED', message: 'session expired or revoked; sign in again' },
  pending: { code: 'UNAUTHENTICATED', message: 'session expired or revoked; sign in again' },
  unknown: { code: 'UNAUTHENTICATED', message: 'session expired or revoked; sign in again' },
  'code-wrong': { code: 'CODE_WRONG', message: 'wrong code' },
  'code-expired': { code: 'CODE_EXPIRED', message: 'the code expired; ask for a new one' },
  'code-used': { code: 'CODE_USED', message: 'the code was already used' },
  'code-dead': { code: 'CODE_DEAD', message: 'the code is no longer valid; ask for a new one' },
  'no-pending': { code: 'CHALLENGE_NOT_FOUND', message: 'no document waits for this code' },
};

const SIGN_IN_REFUSED = 'the code is wrong, expired or already used; a code dies after 3 wrong tries: ask for a new one';

/** A refused request as an HTTP error; a send limit says when to try again and why. */
function requestRefusal(r: Extract<RequestResult, { kind: 'refused' }>): AppError {
  if (r.reason !== 'rate-limited' || r.retryAfterMs === undefined) return refusal(r.reason);
  const retryAfterSeconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
  return r.limit === 'budget'
    ? new AppError('RATE_LIMITED', `too many codes for this number this hour; try in ${retryAfterSeconds} s`, { retryAfterSeconds, limit: 'budget' })
    : new AppError('RATE_LIMITED', `a code for this request was sent and is still valid; a new one in ${retryAfterSeconds} s`, { retryAfterSeconds, limit: 'pause' });
}

export function refusal(reason: string, extra?: Record<string, unknown>): AppError {
  const e = REFUSAL_ERRORS[reason] ?? { code: 'FORBIDDEN' as const, message: 'refused' };
  return new AppError(e.code, e.message, extra);
}

export async function clientRoutes(app: FastifyInstance, d: { core: ClientHttpCore; access: Access; hub: LiveHub; watcher: StatusWatcher | null; streams: StreamRegistry }): Promise<void> {
  const { core, access } = d;
  // Sign-in limits are per client address only (req.ip: the real client behind a trusted proxy).
  // There is deliberately no per-number lockout: anyone could trigger it from many addresses and
  // lock the real client out. Guessing one number is bounded by the core instead: a code dies
  // after 3 wrong tries and only a few codes per hour are sent to a number.
  const otpPerIp = attempts(core, 'http-sign-in', 10, 10 * 60_000);
  const verifyPerIp = attempts(core, 'http-verify', 20, 10 * 60_000);

  const session = async (req: FastifyRequest): Promise<ClientSession> => access.authenticate(bearer(req));
  const requestAs = async (s: ClientSession, action: 'status' | 'arm' | 'disarm', objectCode: string): Promise<RequestResult> =>
    core.request({ channel: s.session.channel, phone: s.number.phone, action, objectCode, ref: `http:${s.session.channel}` });

  app.post('/v1/auth/otp', {
    schema: {
      tags: ['sign-in'], summary: 'Send a sign-in code by SMS to an active trusted number',
      body: { type: 'object', additionalProperties: false, required: ['phone'], properties: { phone: phoneSchema, channel: { type: 'string', enum: ['app', 'chat'] } } },
      response: { 202: { type: 'object', properties: { sent: { type: 'boolean' }, message: { type: 'string' } } }, ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    const body = req.body as { phone: string; channel?: 'app' | 'chat' };
    parsePhone(body.phone); // a malformed number is a 400; whether it is registered is never said
    if (!(await otpPerIp.take(req.ip))) throw new AppError('RATE_LIMITED', 'too many sign-in attempts from this address; try later');
    await core.requestSignIn({ channel: body.channel ?? 'app', phone: body.phone, ref: `ip:${req.ip}` });
    return reply.code(202).send({ sent: true, message: 'If the number is an active trusted number, a code was sent to it.' });
  });

  app.post('/v1/auth/verify', {
    schema: {
      tags: ['sign-in'], summary: 'Exchange the code for a session token',
      body: { type: 'object', additionalProperties: false, required: ['phone', 'code'], properties: { phone: phoneSchema, code: codeSchema, channel: { type: 'string', enum: ['app', 'chat'] } } },
      response: { 200: { type: 'object', properties: { token: { type: 'string' }, expiresAt: { type: 'string' } } }, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const body = req.body as { phone: string; code: string; channel?: 'app' | 'chat' };
    const phone = parsePhone(body.phone).e164;
    if (!(await verifyPerIp.take(req.ip))) throw new AppError('RATE_LIMITED', 'too many attempts from this address; try later');
    const r = await access.verifySignIn({ channel: body.channel ?? 'app', phone, code: body.code, ref: `ip:${req.ip}` });
    // Every refusal is the same answer, whether the number is a client's or not, the code wrong,
    // expired, used or never sent: nothing tells a stranger who is a client or how many tries are left.
    if (r.kind === 'refused') throw new AppError('UNAUTHENTICATED', SIGN_IN_REFUSED);
    return { token: r.token, expiresAt: r.expiresAt };
  });

  app.post('/v1/auth/logout', { schema: { tags: ['sign-in'], security: [{ session: [] }], response: { 204: { type: 'null' }, ...ERROR_RESPONSES } } }, async (req, reply) => {
    const s = await session(req);
    await access.logout(s.token);
    await d.streams.recheck(); // the session's open streams end now, not at their next heartbeat
    return reply.code(204).send();
  });

  app.get('/v1/objects', {
    schema: { tags: ['client'], security: [{ session: [] }], response: { 200: { type: 'object', properties: { objects: { type: 'array', items: objectSchema } } }, ...ERROR_RESPONSES } },
  }, async (req) => {
    const s = await session(req);
    const id = await core.identify(s.number.phone);
    if (!id.ok) throw refusal(id.reason);
    return { objects: id.objects.map(objectOut) };
  });

  app.get('/v1/objects/:code', {
    schema: { tags: ['client'], security: [{ session: [] }], params: { type: 'object', properties: { code: { type: 'string', pattern: '^\\d{3,8}$' } } }, response: { 200: objectSchema, ...ERROR_RESPONSES } },
  }, async (req) => {
    const s = await session(req);
    const r = await requestAs(s, 'status', (req.params as { code: string }).code);
    if (r.kind === 'refused') throw refusal(r.reason);
    if (r.kind !== 'status' || !r.objects[0]) throw refusal('no-object');
    return objectOut(r.objects[0]);
  });

  // `held`: the request waits for a confirmation call-back to the trusted numbers (or an operator); `hold` is its id
  const heldOut = { held: { type: 'boolean' }, hold: { type: 'integer' } } as const;
  const actionOut = { type: 'object', properties: { object: objectSchema, changed: { type: 'boolean' }, documentId: { type: 'string' }, expiresAt: { type: 'string' }, document: { type: 'integer' }, ...heldOut } } as const;
  const actionSchema = (summary: string) => ({
    tags: ['client'], summary, security: [{ session: [] }],
    params: { type: 'object', properties: { code: { type: 'string', pattern: '^\\d{3,8}$' } } },
    response: { 200: actionOut, 202: actionOut, ...ERROR_RESPONSES },
  });

  // ---------------------------------------------------------------- schedules

  app.get('/v1/objects/:code/schedule', {
    schema: {
      tags: ['client'], summary: 'The opening/closing schedule of one of the client\'s objects (null: none), with the exceptions from today',
      security: [{ session: [] }], params: { type: 'object', properties: { code: { type: 'string', pattern: '^\\d{3,8}$' } } },
      response: { 200: scheduleOutSchema, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const s = await session(req);
    const r = await core.schedule({ channel: s.session.channel, phone: s.number.phone, objectCode: (req.params as { code: string }).code, ref: `http:${s.session.channel}` });
    if (r.kind === 'refused') throw refusal(r.reason);
    return { object: r.object.code, schedule: r.schedule && { days: r.schedule.days, notifyOffSchedule: r.schedule.notifyOffSchedule, exceptions: r.upcoming }, text: r.text };
  });

  app.post('/v1/objects/:code/arm', { schema: actionSchema('Arm an object (202 when the request waits for confirmation)') }, async (req, reply) => {
    const s = await session(req);
    const r = await requestAs(s, 'arm', (req.params as { code: string }).code);
    if (r.kind === 'refused') throw requestRefusal(r);
    if (r.kind === 'challenge') return { documentId: r.challengeId, expiresAt: r.expiresAt, document: r.seq };
    if (r.kind === 'held') return reply.code(202).send({ object: objectOut(r.object), held: true, hold: r.holdId, document: r.seq });
    if (r.kind !== 'done') throw refusal('no-object');
    return { object: objectOut(r.object), changed: r.changed, document: r.seq };
  });

  app.post('/v1/objects/:code/disarm', { schema: actionSchema('Disarm an object: answers 202 with a document that waits for the code sent by SMS') }, async (req, reply) => {
    const s = await session(req);
    const r = await requestAs(s, 'disarm', (req.params as { code: string }).code);
    if (r.kind === 'refused') throw requestRefusal(r);
    if (r.kind === 'challenge') return reply.code(202).send({ documentId: r.challengeId, expiresAt: r.expiresAt, document: r.seq });
    if (r.kind === 'held') return reply.code(202).send({ object: objectOut(r.object), held: true, hold: r.holdId, document: r.seq });
    if (r.kind !== 'done') throw refusal('no-object');
    return reply.code(200).send({ object: objectOut(r.object), changed: r.changed, document: r.seq });
  });

  app.post('/v1/documents/:id/confirm', {
    schema: {
      tags: ['client'], summary: 'Confirm a document with the code sent by SMS', security: [{ session: [] }],
      params: { type: 'object', properties: { id: { type: 'string', minLength: 8, maxLength: 64 } } },
      body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: codeSchema } },
      response: {
        200: { type: 'object', properties: { action: { type: 'string' }, object: objectSchema, changed: { type: 'boolean' }, document: { type: 'integer' } } },
        202: { type: 'object', properties: { action: { type: 'string' }, object: objectSchema, document: { type: 'integer' }, ...heldOut } },
        ...ERROR_RESPONSES,
      },
    },
  }, async (req, reply) => {
    const s = await session(req);
    const r: ConfirmResult = await core.confirm({
      channel: s.session.channel, phone: s.number.phone, code: (req.body as { code: string }).code, challengeId: (req.params as { id: string }).id,
      ref: `http:${s.session.channel}`,
    });
    if (r.kind === 'refused') throw refusal(r.reason, r.attemptsLeft !== undefined ? { attemptsLeft: r.attemptsLeft } : undefined);
    if (r.kind === 'held') return reply.code(202).send({ action: r.purpose, object: objectOut(r.object), held: true, hold: r.holdId, document: r.seq });
    return { action: r.purpose, ...(r.object ? { object: objectOut(r.object) } : {}), changed: r.changed, document: r.seq };
  });

  app.get('/v1/documents', {
    schema: {
      tags: ['client'], summary: 'The client\'s own documents, newest first', security: [{ session: [] }],
      querystring: { type: 'object', additionalProperties: false, properties: { before: { type: 'string', pattern: '^\\d{1,12}$' }, limit: { type: 'string', pattern: '^\\d{1,3}$' } } },
      response: {
        200: {
          type: 'object', properties: {
            documents: {
              type: 'array', items: {
                type: 'object', properties: {
                  seq: { type: 'integer' }, at: { type: 'string' }, channel: { type: 'string' }, phone: { type: ['string', 'null'] }, object: { type: ['string', 'null'] },
                  action: { type: 'string' }, auth: { type: 'string' }, outcome: { type: 'string' }, reason: { type: ['string', 'null'] }, hash: { type: 'string' },
                },
              },
            },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (req) => {
    const s = await session(req);
    const q = req.query as { before?: string; limit?: string };
    // a number restricted to some objects sees its own documents and those about its objects only
    const objectCodes = s.number.allObjects ? (await core.listObjects(s.client.id)).map((o) => o.code) : s.number.objectCodes;
    const rows = await core.searchJournal({
      clientId: s.client.id, visibleTo: { phone: s.number.phone, objectCodes },
      limit: Math.min(Number(q.limit ?? 50), 200), ...(q.before ? { beforeSeq: Number(q.before) } : {}),
    });
    return { documents: rows.map((r) => ({ seq: r.seq, at: r.at, channel: r.channel, phone: r.phone, object: r.objectCode, action: r.action, auth: r.auth, outcome: r.outcome, reason: r.reason, hash: r.hash })) };
  });

  app.get('/v1/account', {
    schema: {
      tags: ['client'], security: [{ session: [] }],
      response: { 200: { type: 'object', properties: { name: { type: 'string' }, lang: { type: 'string' }, balance: { type: 'integer', description: 'tiyn' }, suspended: { type: 'boolean' }, services: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const s = await session(req);
    const c = await core.getClient(s.client.id);
    return { name: c.name, lang: c.lang, balance: c.balance, suspended: c.suspendedAt !== null, services: await core.subscriptions(c.id) };
  });

  // ---- duress code: set or cleared by the client after a one-time code; never read back
  const duressOut = { type: 'object', properties: { documentId: { type: 'string' }, expiresAt: { type: 'string' }, document: { type: 'integer' } } } as const;
  for (const [method, change] of [['POST', 'set'], ['DELETE', 'clear']] as const) {
    app.route({
      method, url: '/v1/account/duress',
      schema: {
        tags: ['client'], security: [{ session: [] }],
        summary: change === 'set'
          ? 'Ask to set (or replace) the duress code: a one-time code goes by SMS; the new duress code is sent only with the confirmation'
          : 'Ask to clear the duress code: a one-time code goes by SMS',
        response: { 202: duressOut, ...ERROR_RESPONSES },
      },
      handler: async (req, reply) => {
        const s = await session(req);
        const r = await core.requestDuressChange({ channel: s.session.channel, phone: s.number.phone, change, ref: `http:${s.session.channel}` });
        if (r.kind === 'refused') throw requestRefusal({ ...r, seq: 0 });
        return reply.code(202).send({ documentId: r.challengeId, expiresAt: r.expiresAt, document: r.seq });
      },
    });
  }

  app.post('/v1/account/duress/confirm', {
    schema: {
      tags: ['client'], summary: 'Confirm a change of the duress code with the one-time code; a set carries the new duress code (4 to 8 digits)', security: [{ session: [] }],
      body: {
        type: 'object', additionalProperties: false, required: ['challengeId', 'code'],
        properties: { challengeId: { type: 'string', minLength: 8, maxLength: 64 }, code: codeSchema, duress: codeSchema },
      },
      response: { 200: { type: 'object', properties: { duress: { type: 'string', enum: ['set', 'cleared'] }, document: { type: 'integer' } } }, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const s = await session(req);
    const b = req.body as { challengeId: string; code: string; duress?: string };
    const r = await core.confirmDuressChange({
      channel: s.session.channel, phone: s.number.phone, challengeId: b.challengeId, code: b.code, ref: `http:${s.session.channel}`,
      ...(b.duress !== undefined ? { duress: b.duress } : {}),
    });
    if (r.kind === 'refused') throw refusal(r.reason, r.attemptsLeft !== undefined ? { attemptsLeft: r.attemptsLeft } : undefined);
    return { duress: r.change, document: r.seq };
  });

  app.get('/v1/services', {
    schema: { tags: ['public'], summary: 'The catalogue of online services with tariffs (tiyn)', response: { 200: { type: 'object', properties: { services: { type: 'array', items: { type: 'object', additionalProperties: true } } } } } },
  }, async () => ({ services: await core.services() }));

  app.post('/v1/chat', {
    schema: {
      tags: ['chat'], summary: 'The online chat: the same commands as by SMS', security: [{ session: [] }],
      body: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', maxLength: 500 } } },
      response: { 200: { type: 'object', properties: { reply: { type: 'string' }, lang: { type: 'string' } } }, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const s = await session(req);
    const a = await answerText(core, {
      channel: 'chat', phone: s.number.phone, text: (req.body as { text: string }).text, challengeId: s.session.pendingChallenge, ref: 'http:chat',
    });
    if (a.challengeId) await access.setChatChallenge(s.token, a.challengeId);
    else if (a.command === 'code') await access.setChatChallenge(s.token, null);
    return { reply: a.reply ?? '', lang: a.lang };
  });

  app.get('/v1/events', { schema: { tags: ['client'], summary: 'Server-Sent Events: status changes and alarms of the client\'s objects (token in Authorization or access_token)', security: [{ session: [] }] } }, async (req, reply) => {
    const s = await access.authenticate(streamToken(req));
    const token = s.token;
    const id = await core.identify(s.number.phone);
    openStream(req, reply, {
      hub: d.hub, watcher: d.watcher, streams: d.streams, key: `session:${s.session.tokenHash}`,
      hello: { objects: id.ok ? id.objects.map(objectOut) : [] },
      alive: async () => {
        try {
          await access.authenticate(token);
          return true;
        } catch {
          return false;
        }
      },
      filter: (e) => {
        if (e.type === 'number-state' && e.numberId === s.number.id && e.state !== 'active') return 'close';
        if (e.type === 'object-status' && e.clientId === s.client.id) {
          const allowed = s.number.allObjects || s.number.objectCodes.includes(e.objectCode);
          return allowed ? { object: e.objectCode, status: e.status, since: e.since } : null;
        }
        if (e.type === 'alarm' && e.clientId === s.client.id) {
          const allowed = s.number.allObjects || s.number.objectCodes.includes(e.objectCode);
          return allowed ? { object: e.objectCode, kind: e.kind, zone: e.zone, at: e.at } : null;
        }
        return null;
      },
    });
  });
}
