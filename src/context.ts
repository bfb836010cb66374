import type { Config } from './config.ts';
import { Access } from './core/access.ts';
import { Core } from './core/core.ts';
import type { Clock, LiveBus, LiveEvent, LiveEvents, Outbox, OutboxSignal, Store, StoreAdmin, StoreFigures } from './core/ports.ts';
import { cryptoRandom, systemClock } from './core/system.ts';
import { deriveKeys } from './domain/crypto.ts';
import { openStore } from './store/index.ts';

/**
 * The core over its store, without any channel: what the command line needs for one command
 * and what the service builds its channels on. Loads no HTTP, telephony, SMPP or scheduler code.
 */

/**
 * Fan-out of live events (SSE, consoles) to this instance's listeners, and through the live
 * bus to the other instances on the same database. `emit` delivers an event of this instance
 * (after its transaction committed) to its own listeners at once and publishes it; events
 * published by other instances are delivered to the listeners here (`remote` true), never
 * published again. `emitLocal` is for what every instance finds out by itself (a status seen
 * changed in the database): delivered here only. Listeners must not throw.
 */
export class EventHub implements LiveEvents {
  private readonly listeners = new Set<(e: LiveEvent, remote: boolean) => void>();
  private readonly unsubscribe: () => void;

  constructor(private readonly bus: LiveBus | null = null) {
    this.unsubscribe = bus ? bus.subscribe((e) => this.deliver(e, true)) : () => undefined;
  }

  emit(e: LiveEvent): void {
    this.deliver(e, false);
    try {
      this.bus?.publish(e);
    } catch {
      // the bus never throws; a broken one must not break the request that caused the event
    }
  }

  emitLocal(e: LiveEvent): void {
    this.deliver(e, false);
  }

  private deliver(e: LiveEvent, remote: boolean): void {
    for (const l of this.listeners) {
      try {
        l(e, remote);
      } catch {
        // a broken listener must not break the request that caused the event
      }
    }
  }

  subscribe(l: (e: LiveEvent, remote: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get size(): number {
    return this.listeners.size;
  }

  /** Stops taking events from the other instances (the bus itself is closed by its owner). */
  close(): void {
    this.unsubscribe();
  }
}

export interface CoreContext {
  store: Store;
  /** The SMS outbox as the dispatcher claims and settles it. */
  outbox: Outbox;
  /** Housekeeping, backups, readiness, figures. */
  admin: StoreAdmin;
  core: Core;
  access: Access;
  events: EventHub;
  /** Figures read from the database when /metrics is scraped. */
  metrics: StoreFigures;
  close(): Promise<void>;
}

/** Opens the store (migrating it) and builds the core. Used by the service and the CLI. */
export async function openCore(config: Config, opts: { outboxSignal?: OutboxSignal; clock?: Clock } = {}): Promise<CoreContext> {
  const clock = opts.clock ?? systemClock;
  const { store, outbox, admin, bus } = await openStore(config);
  const events = new EventHub(bus);
  const core = new Core({
    store, clock, random: cryptoRandom, keys: deriveKeys(config.secret), timeZone: config.timeZone, events,
    alarmGroupMs: config.alarms.groupMs, instance: config.instance, calloutLeaseMs: config.leaseMs,
    scheduleGraceMs: config.schedules.graceMin * 60_000,
    panelSupervisionS: config.dc09.supervisionS,
    ...(opts.outboxSignal ? { outboxSignal: opts.outboxSignal } : {}),
  });
  const access = new Access({ store, clock, random: cryptoRandom, keys: deriveKeys(config.secret), core, operatorTokenDays: config.operatorTokenDays });
  return {
    store, outbox, admin, core, access, events, metrics: await admin.metrics(),
    close: async () => {
      events.close();
      await bus.close();
      await admin.close();
    },
  };
}

