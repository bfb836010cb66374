import type { Config } from './config.ts';
import { openCore } from './context.ts';
import type { CoreContext } from './context.ts';
import type { Clock, ReadinessCheck } from './core/ports.ts';
import { systemClock } from './core/system.ts';
import { buildApp } from './http/build-app.ts';
import type { Logger } from './logger.ts';
import { PanelGateway } from './panels/gateway.ts';
import { startSms } from './sms/service.ts';
import { startSchedules } from './jobs/schedule.ts';
import { AmiMonitor } from './telephony/ami.ts';
import { runAlarmCalls } from './telephony/alarm-calls.ts';
import { runConfirmCalls } from './telephony/confirm-calls.ts';
import { Telephony } from './telephony/service.ts';

export { EventHub, openCore } from './context.ts';
export type { CoreContext } from './context.ts';



/**
 * Runs `fn` every `ms`, one run at a time: a slow database never stacks the ticks up. The
 * timer does not keep the process alive; `fail` gets what a run rejected with.
 */
function ticker(ms: number, fn: () => Promise<void>, fail: (err: unknown) => void): NodeJS.Timeout {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    fn().catch(fail).finally(() => {
      busy = false;
    });
  }, ms);
  timer.unref();
  return timer;
}

export interface RunningService {
  address: string;
  /** The DC-09 receiver, when ZHEDEL_DC09_PORT is set. */
  panels: PanelGateway | null;
  ctx: CoreContext;
  telephony: Telephony;
  stop(reason?: string): Promise<void>;
}

/**
 * Starts the service: database, core, HTTP. Channels that need Asterisk or the SMSC keep
 * retrying in the background and never stop the service from starting.
 */
export async function startService(config: Config, logger: Logger, opts: { clock?: Clock } = {}): Promise<RunningService> {
  // the wall clock; a demonstration may run the service on a clock of its own (another hour of the day)
  const clock = opts.clock ?? systemClock;
  // The core tells the SMS dispatcher when it queued something; the dispatcher exists later.
  let wakeSms: () => void = () => undefined;
  const ctx = await openCore(config, { outboxSignal: { queued: () => wakeSms() }, clock });
  logger.info({ db: config.db.label, schema: await ctx.admin.schemaVersion(), secret: config.secretSource, instance: config.instance }, 'database open');
  const sms = await startSms({ config, outbox: ctx.outbox, core: ctx.core, clock, logger });
  wakeSms = () => sms.wake();
  const telephony = new Telephony({
    url: config.ari.url, user: config.ari.user, password: config.ari.password, app: config.ari.app,
    calloutEndpoint: config.ari.calloutEndpoint, core: ctx.core, clock, timeZone: config.timeZone,
    logger: logger.child({ channel: 'phone' }),
  });
  telephony.start();
  const ami = new AmiMonitor({ ...config.ami, logger: logger.child({ channel: 'ami' }) });
  ami.start();

  // Operators' alerts raised by this instance go to its log (and to every console's event
  // stream and /metrics); those of other instances are logged by them.
  ctx.events.subscribe((e, remote) => {
    if (e.type === 'operator-alert' && !remote) logger.warn({ alert: e.id, kind: e.kind, object: e.objectCode, detail: e.detail }, 'operator alert');
  });

  // Alarm call-outs recorded by any process are placed by an instance whose ARI link is up:
  // each claims them under a lease it renews while it calls, so no two instances call about
  // one alarm, and the call-outs of an instance that died are taken over when its lease ends.
  const calling = new Map<number, AbortController>();
  const finishCallouts = async (eventId: number): Promise<void> => {
    try {
      if (!(await ctx.core.finishCallouts(eventId))) logger.warn({ event: eventId }, 'alarm call-outs had been taken over by another instance');
    } finally {
      calling.delete(eventId);
    }
  };
  const takeCallouts = async (): Promise<void> => {
    if (!telephony.link.isConnected()) return;
    for (const plan of await ctx.core.takeCallouts([...calling.keys()])) {
      if (calling.has(plan.eventId)) continue;
      const lease = new AbortController();
      calling.set(plan.eventId, lease);
      void runAlarmCalls(plan, {
        core: ctx.core, callOut: (r) => telephony.callOut(r), logger: logger.child({ channel: 'callout' }), signal: lease.signal,
        rounds: config.alarms.rounds, roundPauseMs: config.alarms.roundPauseMs, ackTimeoutMs: config.alarms.ackTimeoutMs, ringSec: config.alarms.ringSec,
      }).catch((err: unknown) => logger.error({ err }, 'alarm call-outs failed'))
        .then(() => finishCallouts(plan.eventId))
        .catch((err: unknown) => logger.error({ err, event: plan.eventId }, 'alarm call-outs could not be closed'));
    }
  };
  const calloutTimer = ticker(1_000, takeCallouts, (err) => logger.error({ err }, 'waiting alarm call-outs could not be read'));
  // the leases on call-outs under way are renewed well before they end (a third of the lease);
  // call-outs another instance took over meanwhile stop here
  let renewing = false;
  const renewTimer = setInterval(() => {
    const ids = [...calling.keys()];
    if (renewing || ids.length === 0) return;
    renewing = true;
    ctx.core.renewCallouts(ids)
      .then((held) => {
        for (const id of ids) {
          if (held.includes(id)) continue;
          logger.warn({ event: id }, 'alarm call-outs were taken over by another instance; no further calls from here');
          calling.get(id)?.abort();
        }
      })
      .catch((err: unknown) => logger.error({ err }, 'the lease on alarm call-outs could not be renewed'))
      .finally(() => {
        renewing = false;
      });
  }, Math.max(500, Math.floor(config.leaseMs / 3)));
  renewTimer.unref();

  // Confirmation call-backs of held requests, claimed like alarm call-outs (one instance calls
  // about one request); without a link to Asterisk they wait for an operator. Held requests
  // whose time ran out are refused (and the operators alerted) by whichever instance looks first.
  const confirming = new Map<number, AbortController>();
  const takeHolds = async (): Promise<void> => {
    if (telephony.link.isConnected()) {
      for (const plan of await ctx.core.takeHoldCalls([...confirming.keys()])) {
        if (confirming.has(plan.holdId)) continue;
        const lease = new AbortController();
        confirming.set(plan.holdId, lease);
        void runConfirmCalls(plan, {
          core: ctx.core, callOut: (r) => telephony.callOut(r), logger: logger.child({ channel: 'confirm-call' }), signal: lease.signal,
          roundPauseMs: Math.min(config.alarms.roundPauseMs, 30_000), ringSec: config.alarms.ringSec,
        }).catch((err: unknown) => logger.error({ err, hold: plan.holdId }, 'confirmation call-back failed'))
          .finally(() => confirming.delete(plan.holdId));
      }
    }
    await ctx.core.expireHolds();
  };
  const holdTimer = ticker(1_000, takeHolds, (err) => logger.error({ err }, 'held requests could not be read'));
  const holdRenewTimer = ticker(Math.max(500, Math.floor(config.leaseMs / 3)), async () => {
    const ids = [...confirming.keys()];
    if (ids.length === 0) return;
    const held = await ctx.core.renewHoldCalls(ids);
    for (const id of ids) if (!held.includes(id)) confirming.get(id)?.abort();
  }, (err) => logger.error({ err }, 'the lease on confirmation call-backs could not be renewed'));

  // Alarm panels (SIA DC-09): the receiver listens only where ZHEDEL_DC09_PORT is set; every
  // instance watches for panels that went silent (a panel is marked lost once, by whoever looks first).
  let panels: PanelGateway | null = null;
  if (config.dc09.port !== null) {
    panels = new PanelGateway({
      core: ctx.core, logger: logger.child({ channel: 'panel' }), host: config.dc09.host, port: config.dc09.port, windowMs: config.dc09.windowMs,
      maxConnections: config.dc09.maxConnections, maxConnectionsPerAddress: config.dc09.maxPerAddress, now: () => clock.now(),
    });
    await panels.start();
  }
  const supervisionTimer = ticker(5_000, async () => {
    const lost = await ctx.core.checkPanelSupervision();
    if (lost > 0) logger.warn({ panels: lost }, 'panels silent past their supervision period: link lost');
  }, (err) => logger.error({ err }, 'panel supervision could not be checked'));

  const schedules = startSchedules({
    core: ctx.core, admin: ctx.admin, backupDir: config.backup.dir, backupKeepDays: config.backup.keepDays,
    reminderDays: config.billing.remindDays, logger: logger.child({ channel: 'jobs' }), instance: config.instance, leaseMs: config.leaseMs,
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
    metrics: {
      ...ctx.metrics, calls: () => ({ active: telephony.activeCalls, total: telephony.stats.incoming + telephony.stats.callouts }),
      ...(panels ? { panels: () => panels!.stats } : {}),
    },
  });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  logger.info({ address }, 'http listening');

  let stopping: Promise<void> | null = null;
  const stop = (reason = 'stop'): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping');
      // no new requests, calls or claims; what is in flight finishes (bounded), then close
      await app.close();
      clearInterval(supervisionTimer);
      // panels' frames being handled finish and are acknowledged; new ones wait for another receiver
      if (panels) await panels.stop(5_000);
      clearInterval(calloutTimer);
      clearInterval(renewTimer);
      clearInterval(holdTimer);
      clearInterval(holdRenewTimer);
      for (const lease of confirming.values()) lease.abort();
      clearInterval(pingTimer);
      schedules.stop();
      await Promise.all([telephony.stop(5_000), sms.stop()]);
      ami.stop();
      await ctx.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { address, panels, ctx, telephony, stop };
}
