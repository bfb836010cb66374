import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from '../logger.ts';

/** A named dependency the service needs, for /ready. */
export interface ReadinessCheck {
  name: string;
  /** Resolves quickly; never throws. `required` checks make /ready fail when down. */
  check(): { ok: boolean; detail?: string };
  required: boolean;
}

export interface AppDeps {
  logger: Logger;
  checks: ReadinessCheck[];
}

/** Builds the HTTP application. It never listens: main.ts does, tests use inject(). */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ channel: 'http' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    disableRequestLogging: false,
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_req, reply) => {
    const results: Record<string, { ok: boolean; detail?: string }> = {};
    let ready = true;
    for (const c of deps.checks) {
      const r = c.check();
      results[c.name] = r;
      if (c.required && !r.ok) ready = false;
    }
    return reply.code(ready ? 200 : 503).send({ ready, checks: results });
  });

  return app;
}
