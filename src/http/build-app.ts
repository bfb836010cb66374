import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { Access } from '../core/access.ts';
import type { Core } from '../core/core.ts';
import { StorageUnavailableError } from '../core/ports.ts';
import type { ReadinessCheck } from '../core/ports.ts';
import { isAppError } from '../domain/errors.ts';
import type { AppError } from '../domain/errors.ts';
import type { Logger } from '../logger.ts';
import { adminRoutes } from './routes-admin.ts';
import { clientRoutes } from './routes-client.ts';
import { pageRoutes } from './pages.ts';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { StatusWatcher, StreamRegistry } from './live.ts';
import { SAFE_REQUEST_ID, safeUrl, sameSecret } from './common.ts';
import type { ErrorBody, LiveHub, MetricsSource, RevocationMarker } from './common.ts';

export type { LiveHub, MetricsSource, ReadinessCheck, ReadinessResult, RevocationMarker } from './common.ts';

export interface AppDeps {
  logger: Logger;
  checks: ReadinessCheck[];
  core?: Core;
  access?: Access;
  hub?: LiveHub;
  metrics?: MetricsSource;
  monitoringKey?: string | null;
  /** Requests per minute per client address (0: no limit). */
  rateLimitPerMinute?: number;
  /** How often cross-process status changes are looked for (SSE). */
  watchMs?: number;
  /** Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed. */
  trustProxy?: string[];
  /** Bearer token for /metrics, /docs and /ready's details; without it only local direct requests see them. */
  metricsToken?: string | null;
  /** Moves when another process may have revoked sessions; read while client event streams are open. */
  revocationMarker?: RevocationMarker | null;
  /** How often the revocation marker is read (ms). */
  revocationMs?: number;
  /** Concurrent event streams per session (or operator), and per client address. */
  streamsPerSession?: number;
  streamsPerAddress?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** A request made on this host straight to the service, not relayed by a proxy. */
function localDirect(req: IncomingMessage): boolean {
  return LOOPBACK.has(req.socket.remoteAddress ?? '') && !req.headers['x-forwarded-for'] && !req.headers.forwarded && !req.headers['x-real-ip'];
}

function send(reply: FastifyReply, status: number, code: string, message: string, details?: Record<string, unknown>): FastifyReply {
  const body: ErrorBody = { error: { code, message, ...(details ? { details } : {}) } };
  return reply.code(status).send(body);
}

/** Builds the HTTP application. It never listens: main.ts does, tests use inject(). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ channel: 'http' }, {
      serializers: {
        req: (r: { method: string; url: string; ip?: string }) => ({ method: r.method, url: safeUrl(r.url), remote: r.ip }),
      },
    }) as FastifyBaseLogger,
    bodyLimit: 16 * 1024,
    trustProxy: deps.trustProxy && deps.trustProxy.length > 0 ? deps.trustProxy : false,
    // request ids are made here; a client's X-Request-Id is kept only when short and plain
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomBytes(8).toString('hex');
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  // One error handler: stable codes, no internals on 5xx.
  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    if (isAppError(err)) return send(reply, err.status, err.code, err.message, err.details);
    const fe = err as FastifyError;
    if (fe.validation) return send(reply, 400, 'BAD_INPUT', fe.message);
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (fe.statusCode === 400 && /JSON/i.test(fe.message))) return send(reply, 400, 'BAD_JSON', 'the body is not valid JSON');
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, 413, 'TOO_LARGE', 'the body is too large');
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return send(reply, 415, 'BAD_MEDIA_TYPE', 'send application/json');
    if (fe.statusCode === 429) return send(reply, 429, 'RATE_LIMITED', 'too many requests; slow down');
    if (fe.statusCode && fe.statusCode < 500) return send(reply, fe.statusCode, 'BAD_INPUT', fe.message);
    if (err instanceof StorageUnavailableError) {
      // nothing was done; the same request may succeed in a moment (a restart, a failover)
      req.log.warn({ reason: err.reason }, 'request refused: the database cannot be reached');
      void reply.header('retry-after', '5');
      return send(reply, 503, 'UNAVAILABLE', 'the service cannot reach its database; try again shortly');
    }
    req.log.error({ err }, 'request failed');
    return send(reply, 500, 'INTERNAL', 'internal error');
  });
  app.setNotFoundHandler((_req, reply) => send(reply, 404, 'NOT_FOUND', 'no such route'));

  // /metrics, /docs and /ready's details tell how the service is built and how it fares: with
  // ZHEDEL_METRICS_TOKEN they need it as a bearer token, without it only local direct requests see them.
  const mayObserve = (req: IncomingMessage): boolean => {
    if (!deps.metricsToken) return localDirect(req);
    const h = req.headers.authorization;
    return typeof h === 'string' && h.startsWith('Bearer ') && sameSecret(h.slice(7).trim(), deps.metricsToken);
  };
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
    const path = req.url.split('?', 1)[0] ?? '';
    if ((path === '/metrics' || path === '/docs' || path.startsWith('/docs/')) && !mayObserve(req.raw)) {
      return send(reply, 401, 'UNAUTHENTICATED', 'the metrics token is required');
    }
    return undefined;
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'ZHEDEL ONLINE API', version: '1.0.0', description: 'Mobile app, online chat, operators and the monitoring centre.' },
      components: {
        securitySchemes: {
          session: { type: 'http', scheme: 'bearer', description: 'client session token from /v1/auth/verify' },
          operator: { type: 'http', scheme: 'bearer', description: 'operator token from `zhedel operator add`' },
          monitoring: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const perMinute = deps.rateLimitPerMinute ?? 600;
  if (perMinute > 0) {
    await app.register(rateLimit, {
      max: perMinute, timeWindow: 60_000,
      errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, error: { code: 'RATE_LIMITED', message: `too many requests; retry in ${Math.ceil(ctx.ttl / 1000)} s` } }),
    });
  }

  // Metrics.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zhedel_process_' });
  const httpRequests = new Counter({ name: 'zhedel_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] });
  if (deps.metrics) {
    const m = deps.metrics;
    new Gauge({ name: 'zhedel_sms', help: 'SMS in the outbox by state', labelNames: ['state'], registers: [registry], async collect() {
      const byState = await m.outboxByState();
      this.reset();
      for (const [state, n] of Object.entries(byState)) this.set({ state }, n);
    } });
    new Gauge({ name: 'zhedel_documents', help: 'Electronic documents in the journal', registers: [registry], async collect() { this.set(await m.documents()); } });
    new Gauge({ name: 'zhedel_otp_sends_last_hour', help: 'One-time codes sent in the last hour', registers: [registry], async collect() { this.set(await m.otpSendsLastHour()); } });
    new Gauge({ name: 'zhedel_code_failures', help: 'Wrong, expired or replayed codes (journal)', registers: [registry], async collect() { this.set(await m.codeFailures()); } });
    if (m.openAlerts) {
      const open = m.openAlerts.bind(m);
      new Gauge({ name: 'zhedel_operator_alerts_open', help: 'Operator alerts not yet acknowledged', registers: [registry], async collect() { this.set(await open()); } });
    }
    if (m.duressAlarms) {
      const duress = m.duressAlarms.bind(m);
      new Gauge({ name: 'zhedel_duress_alarms', help: 'Duress codes entered: silent panic alarms (journal)', registers: [registry], async collect() { this.set(await duress()); } });
    }
    if (m.calls) {
      const calls = m.calls.bind(m);
      new Gauge({ name: 'zhedel_calls_active', help: 'Calls in progress', registers: [registry], collect() { this.set(calls().active); } });
      new Gauge({ name: 'zhedel_calls', help: 'Calls handled since start', registers: [registry], collect() { this.set(calls().total); } });
    }
    if (m.panels) {
      const panels = m.panels.bind(m);
      new Gauge({ name: 'zhedel_dc09_connections', help: 'Alarm panels connected over TCP to the DC-09 receiver', registers: [registry], collect() { this.set(panels().connections); } });
      new Gauge({
        name: 'zhedel_dc09_frames', help: 'DC-09 frames since start by answer (ack, nak, duh) and connections dropped or refused', labelNames: ['answer'], registers: [registry],
        collect() {
          const p = panels();
          for (const [answer, n] of [['ack', p.acked], ['nak', p.nak], ['duh', p.duh], ['dropped-connection', p.droppedConnections], ['refused-connection', p.refusedConnections]] as const) this.set({ answer }, n);
        },
      });
    }
  }
  app.addHook('onResponse', async (req, reply) => {
    httpRequests.inc({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { hide: true } }, async (req, reply) => {
    const results: Record<string, { ok: boolean; detail?: string }> = {};
    let ready = true;
    for (const c of deps.checks) {
      const r = c.check();
      results[c.name] = r;
      if (c.required && !r.ok) ready = false;
    }
    return reply.code(ready ? 200 : 503).send(mayObserve(req.raw) ? { ready, checks: results } : { ready });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  if (deps.core && deps.access && deps.hub) {
    const watcher = deps.metrics ? new StatusWatcher(deps.metrics, deps.hub, deps.watchMs ?? 1_000) : null;
    const streams = new StreamRegistry({
      marker: deps.revocationMarker ?? null, everyMs: deps.revocationMs ?? 250,
      perKey: deps.streamsPerSession ?? 3, perAddress: deps.streamsPerAddress ?? 20,
    });
    // open event streams would keep the server from closing: they end first
    app.addHook('preClose', async () => {
      streams.closeAll();
    });
    app.addHook('onClose', async () => {
      watcher?.stop();
      streams.stop();
    });
    await clientRoutes(app, { core: deps.core, access: deps.access, hub: deps.hub, watcher, streams });
    await adminRoutes(app, { core: deps.core, access: deps.access, hub: deps.hub, watcher, streams, monitoringKey: deps.monitoringKey ?? null });
    await pageRoutes(app);
  }
  return app;
}

