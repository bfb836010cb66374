import { open } from '../domain/crypto.ts';
import { JournalVerifier } from '../domain/journal.ts';
import type { JournalRecord, VerifyResult } from '../domain/journal.ts';
import { outboxAad } from './context.ts';
import type { CoreContext, SmsToQueue } from './context.ts';
import type { JournalFilter, OutboxRow } from './ports.ts';

/** The outbox filter for messages flagged as possibly sent twice (after a restart or an unanswered submit). */
export const POSSIBLE_DUPLICATE = 'possible-duplicate';

/** The journal (search, chain check) and the outbox (queue, list, read). */
export class Records {
  constructor(private readonly ctx: CoreContext) {}

  searchJournal(f: Partial<JournalFilter>): Promise<JournalRecord[]> {
    const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
    return this.ctx.read((store) => store.searchJournal({ ...f, limit }));
  }

  async verifyJournal(): Promise<VerifyResult> {
    const v = new JournalVerifier();
    let after = 0;
    for (;;) {
      // one snapshot per page: the journal only grows, and a long walk never holds others up
      const from = after;
      const page = await this.ctx.read((store) => store.journalPage(from, 1000));
      if (page.length === 0) break;
      for (const r of page) {
        if (!v.add(r)) return v.result();
      }
      after = (page[page.length - 1] as JournalRecord).seq;
    }
    return v.result();
  }

  /**
   * Messages from senders that are no client's number, beyond the channel's limit: dropped,
   * and journalled as one record with their count and how many senders sent them.
   */
  async noteInboundFlood(a: { channel: 'sms'; count: number; senders: number; since: string }): Promise<void> {
    await this.ctx.run(async (tx) => {
      await tx.journal({
        channel: a.channel, action: 'inbound-flood', auth: 'none', outcome: 'refused', reason: 'rate-limited',
        detail: `count=${a.count} senders=${a.senders} since=${a.since}`,
      });
    });
  }

  /** Puts an SMS in the outbox. Texts with codes are sealed so only the sender can read them. */
  async queueSms(m: SmsToQueue): Promise<number> {
    return this.ctx.run((tx) => tx.enqueue(m));
  }

  /**
   * The outbox for operators, newest first, paged back with `before` (an id): code-bearing
   * texts are masked unless `reveal` (development only). The state `possible-duplicate`
   * selects the messages flagged as possibly sent twice, whatever their state.
   */
  async listOutbox(a: { limit?: number; state?: string; before?: number; reveal?: boolean }): Promise<Array<OutboxRow & { text: string | null }>> {
    const filter = a.state === POSSIBLE_DUPLICATE ? { duplicateRisk: true } : a.state ? { state: a.state } : {};
    const rows = await this.ctx.read((store) => store.listOutbox({
      limit: Math.min(Math.max(a.limit ?? 50, 1), 1000), ...filter, ...(a.before !== undefined ? { before: a.before } : {}),
    }));
    return rows.map((r) => ({ ...r, text: this.outboxText(r, a.reveal ?? false) }));
  }

  /** The text of an outbox row; a sealed one is opened only when `reveal`. */
  outboxText(r: Pick<OutboxRow, 'body' | 'bodyEnc' | 'secret' | 'phone'>, reveal: boolean): string | null {
    if (!r.secret) return r.body;
    if (!r.bodyEnc) return null;
    if (!reveal) return '[code hidden]';
    return open(this.ctx.keys.outbox, r.bodyEnc, outboxAad(r.phone));
  }
}
