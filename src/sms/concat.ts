/**
 * Joins the parts of incoming multi-part SMS (UDH or SAR TLVs): parts in any order,
 * duplicates ignored, a time limit per message, and caps on what is held — per sender and
 * overall — so a flood of first parts cannot fill memory. Pure: the caller passes the time.
 */
export interface PartIn {
  sender: string;
  ref: number;
  total: number;
  seq: number;
  text: string;
  now: number;
}

export interface Dropped {
  sender: string;
  received: number;
  total: number;
}

interface Pending {
  sender: string;
  total: number;
  parts: Map<number, string>;
  first: number;
}

export interface ConcatLimits {
  timeoutMs: number;
  maxPartsPerSender: number;
  maxMessages: number;
  maxTotal: number;
}

export const DEFAULT_CONCAT_LIMITS: ConcatLimits = { timeoutMs: 60_000, maxPartsPerSender: 20, maxMessages: 1_000, maxTotal: 16 };

export class ConcatAssembler {
  private readonly pending = new Map<string, Pending>();
  private readonly limits: ConcatLimits;

  constructor(limits: Partial<ConcatLimits> = {}) {
    this.limits = { ...DEFAULT_CONCAT_LIMITS, ...limits };
  }

  get size(): number {
    return this.pending.size;
  }

  /** Adds a part; returns the whole text when the last part arrives, else null. */
  add(p: PartIn): string | null {
    if (p.total < 1 || p.seq < 1 || p.seq > p.total || p.total > this.limits.maxTotal) return null;
    if (p.total === 1) return p.text;
    const key = `${p.sender}|${p.ref}|${p.total}`;
    let m = this.pending.get(key);
    if (!m) {
      if (this.partsHeldBy(p.sender) + 1 > this.limits.maxPartsPerSender) return null;
      if (this.pending.size >= this.limits.maxMessages) this.dropOldest();
      m = { sender: p.sender, total: p.total, parts: new Map(), first: p.now };
      this.pending.set(key, m);
    } else if (!m.parts.has(p.seq) && this.partsHeldBy(p.sender) + 1 > this.limits.maxPartsPerSender) {
      return null;
    }
    if (!m.parts.has(p.seq)) m.parts.set(p.seq, p.text);
    if (m.parts.size < m.total) return null;
    this.pending.delete(key);
    let text = '';
    for (let i = 1; i <= m.total; i++) text += m.parts.get(i) ?? '';
    return text;
  }

  /** Drops what waited longer than the time limit; says what was dropped. */
  expire(now: number): Dropped[] {
    const out: Dropped[] = [];
    for (const [k, m] of this.pending) {
      if (now - m.first >= this.limits.timeoutMs) {
        this.pending.delete(k);
        out.push({ sender: m.sender, received: m.parts.size, total: m.total });
      }
    }
    return out;
  }

  private partsHeldBy(sender: string): number {
    let n = 0;
    for (const m of this.pending.values()) if (m.sender === sender) n += m.parts.size;
    return n;
  }

  private dropOldest(): void {
    let oldestKey: string | null = null;
    let oldest = Infinity;
    for (const [k, m] of this.pending) {
      if (m.first < oldest) {
        oldest = m.first;
        oldestKey = k;
      }
    }
    if (oldestKey) this.pending.delete(oldestKey);
  }
}
