import type { FastifyRequest } from 'fastify';
import type { LiveEvent } from '../core/ports.ts';

/** A named dependency the service needs, for /ready. */
export interface ReadinessCheck {
  name: string;
  /** Resolves quickly; never throws. `required` checks make /ready fail when down. */
  check(): { ok: boolean; detail?: string };
  required: boolean;
}

export interface LiveHub {
  subscribe(l: (e: LiveEvent) => void): () => void;
  emit(e: LiveEvent): void;
}

/** Figures /metrics reads from the database at scrape time. */
export interface MetricsSource {
  outboxByState(): Record<string, number>;
  documents(): number;
  otpSendsLastHour(): number;
  codeFailures(): number;
  openAlerts?(): number;
  objectStatuses(): Array<{ code: string; clientId: number; status: string; since: string }>;
  calls?(): { active: number; total: number };
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } },
      required: ['code', 'message'],
    },
  },
} as const;
export const ERROR_RESPONSES = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 410: errorSchema, 422: errorSchema, 429: errorSchema };

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h || !h.startsWith('Bearer ')) return undefined;
  return h.slice(7).trim();
}

/** EventSource cannot send headers: event streams also take the token from `access_token`. */
export function streamToken(req: FastifyRequest): string | undefined {
  const q = (req.query ?? {}) as Record<string, unknown>;
  return bearer(req) ?? (typeof q.access_token === 'string' ? q.access_token : undefined);
}

/** URLs as logged: a token in the query never reaches a log line. */
export function safeUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|code)=)[^&]*/gi, '$1[redacted]');
}

