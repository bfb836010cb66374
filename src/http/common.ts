import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { LiveEvent } from '../core/ports.ts';

/** Readiness checks are a port of the service: defined with the other ports. */
export type { ReadinessCheck, ReadinessResult } from '../core/ports.ts';

/**
 * A value that changes whenever another process may have revoked a session or changed a
 * number (with SQLite: the database's data_version). Cheap: it is read several times a second
 * while event streams are open.
 */
export type RevocationMarker = () => number | string | Promise<number | string>;

export interface LiveHub {
  subscribe(l: (e: LiveEvent) => void): () => void;
  /** An event of this instance: to its listeners, and to the other instances. */
  emit(e: LiveEvent): void;
  /** What this instance found out by itself and every other instance finds out too: to its listeners only. */
  emitLocal?(e: LiveEvent): void;
}

/** A figure read now, or once the database answers. */
type Figure<T> = T | Promise<T>;

/** Figures /metrics reads from the database at scrape time. */
export interface MetricsSource {
  outboxByState(): Figure<Record<string, number>>;
  documents(): Figure<number>;
  otpSendsLastHour(): Figure<number>;
  codeFailures(): Figure<number>;
  openAlerts?(): Figure<number>;
  objectStatuses(): Figure<Array<{ code: string; clientId: number; status: string; since: string }>>;
  calls?(): { active: number; total: number };
  /** The DC-09 receiver's counters since start (absent when it does not run here). */
  panels?(): { connections: number; frames: number; acked: number; nak: number; duh: number; droppedConnections: number; refusedConnections: number };
  /** Duress codes entered (silent panic alarms). */
  duressAlarms?(): Figure<number>;
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


/**
 * Compares a presented key with the expected one in constant time, whatever its length or
 * bytes: both are hashed first, so a non-ASCII or over-long key is just a wrong key.
 */
export function sameSecret(given: unknown, expected: string | null | undefined): boolean {
  if (typeof given !== 'string' || !expected) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** A request id a client may choose: short, and nothing that could forge a log line. */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
