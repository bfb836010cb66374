import * as crypto from 'node:crypto';

/**
 * The journal of electronic documents is a hash chain: each record carries the SHA-256 of
 * its own content and of the previous record's hash. Editing, removing or reordering any
 * record breaks the chain at that point.
 */
export const GENESIS_HASH = '0'.repeat(64);

export interface JournalContent {
  at: string;
  channel: string;
  phone: string | null;
  clientId: number | null;
  objectCode: string | null;
  action: string;
  auth: string;
  challengeId: string | null;
  operator: string | null;
  outcome: string;
  reason: string | null;
  detail: string | null;
}

export interface JournalRecord extends JournalContent {
  seq: number;
  prevHash: string;
  hash: string;
}

export function recordHash(seq: number, prevHash: string, c: JournalContent): string {
  const canonical = JSON.stringify([
    seq, prevHash, c.at, c.channel, c.phone, c.clientId, c.objectCode, c.action, c.auth,
    c.challengeId, c.operator, c.outcome, c.reason, c.detail,
  ]);
  return sha256Hex(canonical);
}

/** The one-shot `crypto.hash` (Node.js 20.12 and later) is several times cheaper per record than a Hash object. */
const oneShot = (crypto as unknown as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const sha256Hex: (s: string) => string = oneShot
  ? (s) => oneShot('sha256', s, 'hex')
  : (s) => crypto.createHash('sha256').update(s).digest('hex');

export type VerifyProblem = 'hash-mismatch' | 'chain-broken' | 'sequence-gap';

export interface VerifyResult {
  ok: boolean;
  checked: number;
  headHash: string;
  problem?: { seq: number; kind: VerifyProblem };
}

/**
 * Feed records in `seq` order; returns at the first broken record. A verifier carries state so
 * that a long journal can be checked in pages.
 */
export class JournalVerifier {
  private prev = GENESIS_HASH;
  private lastSeq = 0;
  private count = 0;
  private problem: VerifyResult['problem'];

  add(r: JournalRecord): boolean {
    if (this.problem) return false;
    if (r.seq !== this.lastSeq + 1) {
      this.problem = { seq: r.seq, kind: 'sequence-gap' };
      return false;
    }
    if (r.prevHash !== this.prev) {
      this.problem = { seq: r.seq, kind: 'chain-broken' };
      return false;
    }
    if (recordHash(r.seq, r.prevHash, r) !== r.hash) {
      this.problem = { seq: r.seq, kind: 'hash-mismatch' };
      return false;
    }
    this.prev = r.hash;
    this.lastSeq = r.seq;
    this.count++;
    return true;
  }

  result(): VerifyResult {
    const res: VerifyResult = { ok: !this.problem, checked: this.count, headHash: this.prev };
    if (this.problem) res.problem = this.problem;
    return res;
  }
}
