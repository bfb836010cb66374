import type { Config } from './config.ts';
import { Access } from './core/access.ts';
import { Core } from './core/core.ts';
import type { LiveEvent, LiveEvents, OutboxSignal } from './core/ports.ts';
import { cryptoRandom, systemClock } from './core/system.ts';
import { deriveKeys } from './domain/crypto.ts';
import { buildApp } from './http/build-app.ts';
import type { MetricsSource, ReadinessCheck } from './http/build-app.ts';
import type { Logger } from './logger.ts';
import { openDb, schemaVersion } from './store/db.ts';
import type { Db } from './store/db.ts';
import { SqliteStore } from './store/sqlite-store.ts';
import { startSms } from './sms/service.ts';
import { startSchedules } from './jobs/schedule.ts';
import { AmiMonitor } from './telephony/ami.ts';
import { runAlarmCalls } from './telephony/alarm-calls.ts';
import { Telephony } from './telephony/service.ts';

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

/**
 * Moves whenever another process (the command line, a second instance) committed a change to
 * the database — a blocked number, a revoked session among them. This connection's own changes
 * reach the event streams through the event hub. With another store this becomes a notification.
 */
export function revocationMarker(db: Db): number {
  return db.pragma('data_version', { simple: true }) as number;
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
  const access = new Access({ store, clock: systemClock, random: cryptoRandom, keys: deriveKeys(config.secret), core });
  return {
    db, store, core, access, events, metrics: metricsFrom(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}

export interface RunningService {
  address: string;
  ctx: CoreContext;
  telephony: Telephony;
  stop(reason?: string): Promise<void>;
}

/**
 * Starts the service: database, core, HTTP. Channels that need Asterisk or the SMSC keep
 * retrying in the background and never stop the service from starting.
 */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  // The core tells the SMS dispatcher when it queued something; the dispatcher exists later.
  let wakeSms: () => void = () => undefined;
  const ctx = openCore(config, { outboxSignal: { queued: () => wakeSms() } });
  logger.info({ db: config.dbPath, schema: schemaVersion(ctx.db), secret: config.secretSource }, 'database open');
  const sms = startSms({ config, db: ctx.db, core: ctx.core, clock: systemClock, logger });
  wakeSms = () => sms.wake();
  const telephony = new Telephony({
    url: config.ari.url, user: config.ari.user, password: config.ari.password, app: config.ari.app,
    calloutEndpoint: config.ari.calloutEndpoint, core: ctx.core, clock: systemClock, timeZone: config.timeZone,
    logger: logger.child({ channel: 'phone' }),
  });
  telephony.start();
  const ami = new AmiMonitor({ ...config.ami, logger: logger.child({ channel: 'ami' }) });
  ami.start();

  // Operators' alerts go to the log (and the console's event stream, and /metrics).
  ctx.events.subscribe((e) => {
    if (e.type === 'operator-alert') logger.warn({ alert: e.id, kind: e.kind, object: e.objectCode, detail: e.detail }, 'operator alert');
  });

  // Alarm call-outs recorded by any process are placed by this one, which holds the ARI link.
  const calling = new Set<number>();
  const calloutTimer = setInterval(() => {
    if (!telephony.link.isConnected()) return;
    for (const plan of ctx.core.takeCallouts()) {
      if (calling.has(plan.eventId)) continue;
      calling.add(plan.eventId);
      void runAlarmCalls(plan, {
        core: ctx.core, callOut: (r) => telephony.callOut(r), logger: logger.child({ channel: 'callout' }),
        rounds: config.alarms.rounds, roundPauseMs: config.alarms.roundPauseMs, ackTimeoutMs: config.alarms.ackTimeoutMs, ringSec: config.alarms.ringSec,
      }).catch((err: unknown) => logger.error({ err }, 'alarm call-outs failed'))
        .finally(() => {
          calling.delete(plan.eventId);
          ctx.core.finishCallouts(plan.eventId);
        });
    }
  }, 1_000);
  calloutTimer.unref();

  const schedules = startSchedules({
    core: ctx.core, db: ctx.db, dbPath: config.dbPath, backupDir: config.backup.dir, backupKeepDays: config.backup.keepDays,
    reminderDays: config.billing.remindDays, logger: logger.child({ channel: 'jobs' }),
  }, config.timeZone);
  const checks: ReadinessCheck[] = [
    {
      name: 'database',
      required: true,
      check: () => {
        try {
          ctx.db.prepare('SELECT 1').get();
          return { ok: true };
        } catch (e) {
          return { ok: false, detail: (e as Error).message };
        }
      },
    },
    sms.readiness,
    telephony.readiness(),
    ami.readiness(),
  ];
  const app = await buildApp({
    logger, checks, core: ctx.core, access: ctx.access, hub: ctx.events, monitoringKey: config.monitoringKey,
    rateLimitPerMinute: config.http.rateLimitPerMinute, trustProxy: config.http.trustProxy, metricsToken: config.metricsToken,
    revocationMarker: () => revocationMarker(ctx.db),
    metrics: { ...ctx.metrics, calls: () => ({ active: telephony.activeCalls, total: telephony.stats.incoming + telephony.stats.callouts }) },
  });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  logger.info({ address }, 'http listening');

  let stopping: Promise<void> | null = null;
  const stop = (reason = 'stop'): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping');
      // no new requests, calls or claims; what is in flight finishes (bounded), then close
      await app.close();
      clearInterval(calloutTimer);
      schedules.stop();
      await Promise.all([telephony.stop(5_000), sms.stop()]);
      ami.stop();
      ctx.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { address, ctx, telephony, stop };
}
