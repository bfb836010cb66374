import type { Config } from './config.ts';
import { Access } from './core/access.ts';
import { Core } from './core/core.ts';
import type { LiveEvent, LiveEvents, Outbox, OutboxSignal, Store, StoreAdmin, StoreFigures } from './core/ports.ts';
import { cryptoRandom, systemClock } from './core/system.ts';
import { deriveKeys } from './domain/crypto.ts';
import { openStore } from './store/index.ts';

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
export async function openCore(config: Config, opts: { outboxSignal?: OutboxSignal } = {}): Promise<CoreContext> {
  const { store, outbox, admin } = await openStore(config);
  const events = new EventHub();
  const core = new Core({
    store, clock: systemClock, random: cryptoRandom, keys: deriveKeys(config.secret), timeZone: config.timeZone, events,
    alarmGroupMs: config.alarms.groupMs,
    ...(opts.outboxSignal ? { outboxSignal: opts.outboxSignal } : {}),
  });
  const access = new Access({ store, clock: systemClock, random: cryptoRandom, keys: deriveKeys(config.secret), core, operatorTokenDays: config.operatorTokenDays });
  return {
    store, outbox, admin, core, access, events, metrics: await admin.metrics(),
    close: async () => {
      await admin.close();
    },
  };
}

