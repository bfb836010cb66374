/**
 * Ends operators' open event streams when their credentials are revoked (disabled, rotated,
 * expired), also when the change was made by another process such as the command line.
 *
 * `CredentialChanges` is the only thing that knows how a change is noticed: here a revision
 * counter in the database, read a few times a second while streams are open. A database with
 * notifications (PostgreSQL LISTEN/NOTIFY) can implement the same interface.
 */
export interface CredentialChanges {
  /** Calls `changed` after operators' credentials may have changed; returns a function that stops. */
  subscribe(changed: () => void): () => void;
}

/**
 * Reads `revision` every `everyMs` while anyone listens, and reports when it moved. A read
 * still under way when the next tick comes is not doubled: that tick is skipped.
 */
export function pollRevision(revision: () => number | Promise<number>, everyMs: number): CredentialChanges {
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | null = null;
  let seen = 0;
  let reading = false;
  const read = async (): Promise<number | null> => {
    try {
      return await revision();
    } catch {
      // the database is closing: nothing to report
      return null;
    }
  };
  const tick = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      const now = await read();
      if (now === null || now === seen || !timer) return;
      seen = now;
      for (const l of [...listeners]) l();
    } finally {
      reading = false;
    }
  };
  const start = async (): Promise<void> => {
    reading = true;
    try {
      seen = (await read()) ?? 0;
    } finally {
      reading = false;
    }
  };
  return {
    subscribe(changed) {
      listeners.add(changed);
      if (!timer) {
        void start();
        timer = setInterval(() => void tick(), everyMs);
        timer.unref();
      }
      return () => {
        listeners.delete(changed);
        if (listeners.size === 0 && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
  };
}

interface Watched {
  stillValid: () => boolean | Promise<boolean>;
  revoke: () => void;
}

/** The open operator streams; on a change each one's credentials are checked again. */
export class OperatorRevocations {
  private readonly open = new Set<Watched>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly changes: CredentialChanges) {}

  /** While a stream is open: `revoke` is called once its credentials stop being valid. */
  watch(stillValid: () => boolean | Promise<boolean>, revoke: () => void): () => void {
    const w: Watched = { stillValid, revoke };
    this.open.add(w);
    this.unsubscribe ??= this.changes.subscribe(() => {
      // stillValid answers false rather than throw; a stream that fails to end ends with its socket
      void this.check().catch(() => undefined);
    });
    return () => {
      this.open.delete(w);
      if (this.open.size === 0) this.release();
    };
  }

  /** A change made in this process: check at once rather than at the next poll. */
  async check(): Promise<void> {
    for (const w of [...this.open]) {
      const valid = await w.stillValid();
      // a stream closed, or revoked by a check that overlapped this one, is left alone
      if (!valid && this.open.has(w)) {
        this.open.delete(w);
        w.revoke();
      }
    }
    if (this.open.size === 0) this.release();
  }

  stop(): void {
    this.open.clear();
    this.release();
  }

  private release(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
