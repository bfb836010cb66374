import type { Config } from './config.ts';
import { Access } from './core/access.ts';
import { Core } from './core/core.ts';
import type { LiveEvent, LiveEvents, OutboxSignal } from './core/ports.ts';
import { cryptoRandom, systemClock } from './core/system.ts';
import { deriveKeys } from './domain/crypto.ts';
import type { MetricsSource } from './http/build-app.ts';
import { openDb } from './store/db.ts';
import type { Db } from './store/db.ts';
import { SqliteStore } from './store/sqlite-store.ts';

/**
 * The core over its store, without any channel: what the command line needs for one command
 * and what the service builds its channels on. Loads no HTTP, telephony, SMPP or scheduler code.
 */

/** In-process fan-out of live events (SSE, consoles). Listeners must not throw. */
export class EventHub implements LiveEvents {
  private readonly listeners = new Set<(e: LiveEvent) => void>();

  emit(e: LiveEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a broken listener must not break the request that caused the event
      }
    }
  }

  subscribe(l: (e: LiveEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get size(): number {
    return this.listeners.size;
  }
}

export interface CoreContext {
  db: Db;
  store: SqliteStore;
  core: Core;
  access: Access;
  events: EventHub;
  metrics: MetricsSource;
  close(): void;
}

/** Figures read from the database when /metrics is scraped. */
function metricsFrom(db: Db): MetricsSource {
  const count = (sql: string, ...args: unknown[]): number => (db.prepare(sql).get(...args) as { n: number }).n;
  return {
    outboxByState: () => Object.fromEntries((db.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as Array<{ state: string; n: number }>).map((r) => [r.state, r.n])),
    documents: () => count('SELECT COALESCE(MAX(seq), 0) AS n FROM journal'),
    otpSendsLastHour: () => count('SELECT COUNT(*) AS n FROM otp_sends WHERE sent_at > ?', new Date(Date.now() - 3_600_000).toISOString()),
    codeFailures: () => count("SELECT COUNT(*) AS n FROM journal WHERE action = 'confirm' AND outcome = 'refused'"),
    openAlerts: () => count('SELECT COUNT(*) AS n FROM alerts WHERE acknowledged_at IS NULL'),
    objectStatuses: () => (db.prepare('SELECT code, client_id, status, status_since FROM objects').all() as Array<Record<string, unknown>>)
      .map((r) => ({ code: r.code as string, clientId: r.client_id as number, status: r.status as string, since: r.status_since as string })),
  };
}

/** Opens the database (migrating it) and builds the core. Used by the service and the CLI. */
export function openCore(config: Config, opts: { outboxSignal?: OutboxSignal } = {}): CoreContext {
  const db = openDb(config.dbPath);
  const store = new SqliteStore(db);
  const events = new EventHub();
  const core = new Core({
    store, clock: systemClock, random: cryptoRandom, keys: deriveKeys(config.secret), timeZone: config.timeZone, events,
    alarmGroupMs: config.alarms.groupMs,
    ...(opts.outboxSignal ? { outboxSignal: opts.outboxSignal } : {}),
  });
  const access = new Access({ store, clock: systemClock, random: cryptoRandom, keys: deriveKeys(config.secret), core, operatorTokenDays: config.operatorTokenDays });
  return {
    db, store, core, access, events, metrics: metricsFrom(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}

