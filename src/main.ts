import type { Config } from './config.ts';
import { openCore } from './context.ts';
import type { CoreContext } from './context.ts';
import type { ReadinessCheck } from './core/ports.ts';
import { systemClock } from './core/system.ts';
import { buildApp } from './http/build-app.ts';
import type { Logger } from './logger.ts';
import { startSms } from './sms/service.ts';
import { startSchedules } from './jobs/schedule.ts';
import { AmiMonitor } from './telephony/ami.ts';
import { runAlarmCalls } from './telephony/alarm-calls.ts';
import { Telephony } from './telephony/service.ts';

export { EventHub, openCore } from './context.ts';
export type { CoreContext } from './context.ts';


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
  const ctx = await openCore(config, { outboxSignal: { queued: () => wakeSms() } });
  logger.info({ db: config.db.label, schema: await ctx.admin.schemaVersion(), secret: config.secretSource }, 'database open');
  const sms = await startSms({ config, outbox: ctx.outbox, core: ctx.core, clock: systemClock, logger });
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
  const finishCallouts = async (eventId: number): Promise<void> => {
    try {
      await ctx.core.finishCallouts(eventId);
    } finally {
      calling.delete(eventId);
    }
  };
  const takeCallouts = async (): Promise<void> => {
    if (!telephony.link.isConnected()) return;
    for (const plan of await ctx.core.takeCallouts()) {
      if (calling.has(plan.eventId)) continue;
      calling.add(plan.eventId);
      void runAlarmCalls(plan, {
        core: ctx.core, callOut: (r) => telephony.callOut(r), logger: logger.child({ channel: 'callout' }),
        rounds: config.alarms.rounds, roundPauseMs: config.alarms.roundPauseMs, ackTimeoutMs: config.alarms.ackTimeoutMs, ringSec: config.alarms.ringSec,
      }).catch((err: unknown) => logger.error({ err }, 'alarm call-outs failed'))
        .then(() => finishCallouts(plan.eventId))
        .catch((err: unknown) => logger.error({ err, event: plan.eventId }, 'alarm call-outs could not be closed'));
    }
  };
  // one look at a time: a slow database never stacks the ticks up
  let takingCallouts = false;
  const calloutTimer = setInterval(() => {
    if (takingCallouts) return;
    takingCallouts = true;
    takeCallouts()
      .catch((err: unknown) => logger.error({ err }, 'waiting alarm call-outs could not be read'))
      .finally(() => {
        takingCallouts = false;
      });
  }, 1_000);
  calloutTimer.unref();

  const schedules = startSchedules({
    core: ctx.core, admin: ctx.admin, backupDir: config.backup.dir, backupKeepDays: config.backup.keepDays,
    reminderDays: config.billing.remindDays, logger: logger.child({ channel: 'jobs' }),
  }, config.timeZone);
  // /ready answers at once from the last answer of a ping every two seconds (the store answers
  // asynchronously; a database that stops answering shows as down within one period)
  let database: { ok: boolean; detail?: string } = { ok: false, detail: 'not checked yet' };
  let pinging = false;
  const ping = async (): Promise<void> => {
    if (pinging) return;
    pinging = true;
    try {
      await ctx.admin.ping();
      database = { ok: true };
    } catch (e) {
      database = { ok: false, detail: (e as Error).message };
    } finally {
      pinging = false;
    }
  };
  await ping();
  const pingTimer = setInterval(() => void ping(), 2_000);
  pingTimer.unref();
  const checks: ReadinessCheck[] = [
    { name: 'database', required: true, check: () => database },
    sms.readiness,
    telephony.readiness(),
    ami.readiness(),
  ];
  const app = await buildApp({
    logger, checks, core: ctx.core, access: ctx.access, hub: ctx.events, monitoringKey: config.monitoringKey,
    rateLimitPerMinute: config.http.rateLimitPerMinute, trustProxy: config.http.trustProxy, metricsToken: config.metricsToken,
    revocationMarker: () => ctx.admin.changeMarker(),
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
      clearInterval(pingTimer);
      schedules.stop();
      await Promise.all([telephony.stop(5_000), sms.stop()]);
      ami.stop();
      await ctx.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { address, ctx, telephony, stop };
}
