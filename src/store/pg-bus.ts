import type { LiveBus, LiveEvent } from '../core/ports.ts';
import { LIVE_CHANNEL } from './pg-db.ts';
import type { PgDatabase } from './pg-db.ts';

/** The longest payload sent (PostgreSQL refuses notifications of 8000 bytes or more). */
const MAX_PAYLOAD = 7_900;

/**
 * The live-event bus on PostgreSQL: `pg_notify` on the `zhedel_live` channel, heard on the
 * database's listening connection (the one that counts other processes' commits). Each event
 * goes out as JSON with this endpoint's origin id (the opened store's random name), in the
 * order published (one notification at a time); what comes back with this origin is dropped.
 * An event published while the server is away is lost (live events are hints; every stream
 * reads the current state when it opens), and so is one heard while the listener reconnects.
 */
export class PgBus implements LiveBus {
  private readonly subscribers = new Set<(e: LiveEvent) => void>();
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly db: PgDatabase) {
    db.changes.onLive = (payload) => this.heard(payload);
  }

  publish(e: LiveEvent): void {
    if (this.closed) return;
    const payload = JSON.stringify({ o: this.db.instance, e });
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) return;
    this.tail = this.tail
      .then(() => this.db.pool.query('SELECT pg_notify($1, $2)', [LIVE_CHANNEL, payload]))
      .catch(() => undefined);
  }

  subscribe(cb: (e: LiveEvent) => void): () => void {
    this.subscribers.add(cb);
    return () => {
      this.subscribers.delete(cb);
    };
  }

  private heard(payload: string): void {
    if (this.closed) return;
    let msg: { o?: unknown; e?: unknown };
    try {
      msg = JSON.parse(payload) as { o?: unknown; e?: unknown };
    } catch {
      return;
    }
    if (msg.o === this.db.instance || typeof msg.e !== 'object' || msg.e === null) return;
    for (const cb of this.subscribers) {
      try {
        // each subscriber its own copy, as from the network
        cb(structuredClone(msg.e) as LiveEvent);
      } catch {
        // one broken subscriber does not keep the event from the others
      }
    }
  }

  /** Stops delivering; what was published before is still sent (the pool closes after it). */
  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
    if (this.db.changes.onLive) this.db.changes.onLive = null;
    await this.tail;
  }
}
