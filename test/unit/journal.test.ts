import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, JournalVerifier, recordHash } from '../../src/domain/journal.ts';
import type { JournalContent, JournalRecord } from '../../src/domain/journal.ts';

function chain(n: number): JournalRecord[] {
  const out: JournalRecord[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const c: JournalContent = {
      at: `2026-01-01T00:00:0${i}.000Z`, channel: 'sms', phone: '+77011234567', clientId: 1, objectCode: '1234',
      action: i % 2 ? 'arm' : 'disarm', auth: 'sender', challengeId: null, operator: null, outcome: 'executed', reason: null, detail: null,
    };
    const hash = recordHash(i, prev, c);
    out.push({ ...c, seq: i, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

function verify(rs: JournalRecord[]) {
  const v = new JournalVerifier();
  for (const r of rs) if (!v.add(r)) break;
  return v.result();
}

describe('journal hash chain', () => {
  it('verifies an intact chain', () => {
    const r = verify(chain(5));
    expect(r).toMatchObject({ ok: true, checked: 5 });
    expect(r.headHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('finds an edited record', () => {
    const rs = chain(5);
    rs[2] = { ...(rs[2] as JournalRecord), action: 'status' };
    expect(verify(rs)).toMatchObject({ ok: false, checked: 2, problem: { seq: 3, kind: 'hash-mismatch' } });
  });

  it('finds an edited record whose hash was recomputed', () => {
    const rs = chain(5);
    const r = { ...(rs[1] as JournalRecord), outcome: 'refused' };
    r.hash = recordHash(r.seq, r.prevHash, r);
    rs[1] = r;
    expect(verify(rs)).toMatchObject({ ok: false, problem: { seq: 3, kind: 'chain-broken' } });
  });

  it('finds a removed record', () => {
    const rs = chain(5);
    rs.splice(3, 1);
    expect(verify(rs)).toMatchObject({ ok: false, problem: { seq: 5, kind: 'sequence-gap' } });
  });

  it('finds reordered records', () => {
    const rs = chain(5);
    const a = rs[1] as JournalRecord;
    const b = rs[2] as JournalRecord;
    rs[1] = { ...b, seq: 2 };
    rs[2] = { ...a, seq: 3 };
    expect(verify(rs).ok).toBe(false);
  });
});
