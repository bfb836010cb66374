import type { LiveBus, LiveEvent } from '../core/ports.ts';

/**
 * The live-event bus of SQLite: instances on one database file are on one machine and, for
 * the service, one per process, so the bus reaches the instances opened in this process on
 * the same file (a second instance in one process is what tests run). Each `openStore` gets
 * its own endpoint; an endpoint's events reach every other endpoint of the same file, never
 * itself, each subscriber once, in the order published, on a later turn of the event loop
 * and as a copy (as a bus between machines would deliver them).
 */
class LocalEndpoint implements LiveBus {
  private readonly subscribers = new Set<(e: LiveEvent) => void>();
  private closed = false;

  constructor(private readonly peers: Set<LocalEndpoint>, private readonly onEmpty: () => void = () => undefined) {
    peers.add(this);
  }

  publish(e: LiveEvent): void {
    if (this.closed) return;
    for (const peer of this.peers) {
      if (peer === this) continue;
      const copy = structuredClone(e);
      setImmediate(() => peer.deliver(copy));
    }
  }

  subscribe(cb: (e: LiveEvent) => void): () => void {
    this.subscribers.add(cb);
    return () => {
      this.subscribers.delete(cb);
    };
  }

  private deliver(e: LiveEvent): void {
    if (this.closed) return;
    for (const cb of this.subscribers) {
      try {
        cb(e);
      } catch {
        // one broken subscriber does not keep the event from the others
      }
    }
  }

  close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
    this.peers.delete(this);
    if (this.peers.size === 0) this.onEmpty();
    return Promise.resolve();
  }
}

const files = new Map<string, Set<LocalEndpoint>>();

/** A new endpoint on the bus of the database file `name` (a private bus for an in-memory database: null). */
export function localBus(name: string | null): LiveBus {
  if (name === null) return new LocalEndpoint(new Set());
  let peers = files.get(name);
  if (!peers) {
    peers = new Set();
    files.set(name, peers);
  }
  const mine = peers;
  return new LocalEndpoint(mine, () => {
    if (files.get(name) === mine) files.delete(name);
  });
}
