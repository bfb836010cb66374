import { AppError } from '../domain/errors.ts';
import { formatKzt } from '../domain/money.ts';
import { BILLING_TEXT } from '../domain/texts.ts';
import type { ClientView } from '../domain/types.ts';
import { checkOperator, isDuplicate, mustClient } from './context.ts';
import type { CoreContext, Tx } from './context.ts';

/** The billing period (month, 'YYYY-MM') of an instant, in the company's time zone. */
export function periodOf(at: Date, timeZone: string): string {
  const p = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(at);
  return `${p.find((x) => x.type === 'year')?.value}-${p.find((x) => x.type === 'month')?.value}`;
}

export function nextPeriod(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/**
 * One month's fee of one service, charged at most once: the ledger row's reference (client,
 * service, period) is unique. `already` when it was charged before, `short` when the balance
 * does not cover the fee (nothing is written then).
 */
async function chargeStep(tx: Tx, clientId: number, service: string, period: string, by: string):
  Promise<{ kind: 'already' } | { kind: 'charged' } | { kind: 'short'; client: ClientView; fee: number }> {
  const ref = `charge:${clientId}:${service}:${period}`;
  if (await tx.store.ledgerHas(ref)) return { kind: 'already' };
  const client = await mustClient(tx.store, clientId);
  const fee = (await tx.store.tariffFor(service, period))?.monthlyFee ?? 0;
  if (client.balance < fee) return { kind: 'short', client, fee };
  await tx.store.insertLedger({ clientId, amount: -fee, kind: 'charge', ref, note: `${service} ${period}`, at: tx.nowIso() });
  await tx.store.addBalance(clientId, -fee);
  await tx.store.setSubscriptionState(clientId, service, 'active');
  await tx.journal({ channel: 'system', clientId, action: 'charge', auth: 'none', outcome: 'executed', detail: `service=${service} period=${period} amount=${fee} by=${by}` });
  return { kind: 'charged' };
}

/** An informational SMS to each active number of the client (never to an unregistered one). */
async function notifyClient(tx: Tx, client: ClientView, text: string, kind: string): Promise<void> {
  for (const n of (await tx.store.listNumbers(client.id)).filter((x) => x.state === 'active')) {
    await tx.enqueue({ priority: 'info', kind, phone: n.phone, clientId: client.id, text, secret: false, expiresAt: null });
  }
}

/** Monthly charges, suspension and resumption, reminders, payments. */
export class Billing {
  constructor(private readonly ctx: CoreContext) {}

  /** The billing period (month, 'YYYY-MM') of an instant, in the company's time zone. */
  periodOf(at: Date): string {
    return periodOf(at, this.ctx.timeZone);
  }

  private async subscriptionsByClient(): Promise<Map<number, string[]>> {
    const byClient = new Map<number, string[]>();
    for (const sub of await this.ctx.read((store) => store.allSubscriptions())) byClient.set(sub.clientId, [...(byClient.get(sub.clientId) ?? []), sub.service]);
    return byClient;
  }

  /**
   * Charges every subscription for the period of `at`, one transaction per client. Each charge
   * is a ledger row with a unique reference (client, service, period): a rerun, an overlap or
   * a restart never charges twice. A fee that cannot be paid suspends the service and the
   * client, with one SMS per period saying why and how to resume.
   */
  async runBilling(at: Date): Promise<{ period: string; charged: number; suspended: number; already: number }> {
    const period = this.periodOf(at);
    const totals = { period, charged: 0, suspended: 0, already: 0 };
    for (const [clientId, services] of await this.subscriptionsByClient()) {
      await this.ctx.run(async (tx) => {
        for (const service of services) {
          const r = await this.chargeOne(tx, clientId, service, period);
          totals[r]++;
        }
      });
    }
    return totals;
  }

  private async chargeOne(tx: Tx, clientId: number, service: string, period: string): Promise<'charged' | 'suspended' | 'already'> {
    const step = await chargeStep(tx, clientId, service, period, 'billing');
    if (step.kind !== 'short') return step.kind;
    const { client, fee } = step;
    const at = tx.nowIso();
    await tx.store.setSubscriptionState(clientId, service, 'suspended');
    if (!client.suspendedAt) await tx.store.setSuspended(clientId, at);
    await tx.journal({ channel: 'system', clientId, action: 'suspend', auth: 'none', outcome: 'executed', reason: 'insufficient-funds', detail: `service=${service} period=${period} fee=${fee} balance=${client.balance}` });
    if (await tx.store.billingNotice(clientId, 'suspended', period, at)) await notifyClient(tx, client, BILLING_TEXT.suspended[client.lang], 'billing');
    return 'suspended';
  }

  /** Charges what a suspended client owes for the current period and resumes when all is paid. */
  private async resumeIfPaid(tx: Tx, clientId: number): Promise<boolean> {
    const client = await mustClient(tx.store, clientId);
    if (!client.suspendedAt) return false;
    const period = this.periodOf(tx.now());
    const subs = (await tx.store.allSubscriptions()).filter((x) => x.clientId === clientId && x.state === 'suspended');
    for (const sub of subs) {
      // this period's fee was charged already: the service runs again
      if ((await chargeStep(tx, clientId, sub.service, period, 'payment')).kind === 'already') await tx.store.setSubscriptionState(clientId, sub.service, 'active');
    }
    if ((await tx.store.allSubscriptions()).some((x) => x.clientId === clientId && x.state === 'suspended')) return false;
    await tx.store.setSuspended(clientId, null);
    await tx.journal({ channel: 'system', clientId, action: 'resume', auth: 'none', outcome: 'executed' });
    await notifyClient(tx, client, BILLING_TEXT.resumed[client.lang], 'billing');
    return true;
  }

  /**
   * A reminder `days` before the next charge when the balance does not cover it: one SMS per
   * period to the client's active numbers.
   */
  async runReminders(at: Date, days: number): Promise<number> {
    const next = nextPeriod(this.periodOf(at));
    const [y, m] = next.split('-').map(Number) as [number, number];
    // the first day of the next period, as a local date
    const daysLeft = Math.ceil((Date.UTC(y, m - 1, 1) - Date.parse(`${localDate(at, this.ctx.timeZone)}T00:00:00Z`)) / 86_400_000);
    if (daysLeft > days || daysLeft < 0) return 0;
    let sent = 0;
    for (const [clientId, services] of await this.subscriptionsByClient()) {
      await this.ctx.run(async (tx) => {
        const client = await mustClient(tx.store, clientId);
        let due = 0;
        for (const svc of services) due += (await tx.store.tariffFor(svc, next))?.monthlyFee ?? 0;
        if (client.balance >= due) return;
        if (!(await tx.store.billingNotice(clientId, 'reminder', next, tx.nowIso()))) return;
        await notifyClient(tx, client, BILLING_TEXT.reminder[client.lang]
          .replace('{date}', `01.${next.slice(5)}`).replace('{amount}', formatKzt(due)).replace('{balance}', formatKzt(client.balance)), 'billing');
        await tx.journal({ channel: 'system', clientId, action: 'billing-reminder', auth: 'none', outcome: 'executed', detail: `period=${next} due=${due}` });
        sent++;
      });
    }
    return sent;
  }

  /** A payment to the client's account. `ref` makes it idempotent (a bank reference). */
  async pay(a: { clientId: number; amount: number; operator: string; ref?: string }): Promise<{ client: ClientView; duplicate: boolean }> {
    checkOperator(a.operator);
    if (!Number.isSafeInteger(a.amount) || a.amount <= 0) throw new AppError('BAD_AMOUNT', 'amount must be a positive number of tiyn');
    const ref = a.ref ?? `pay:${this.ctx.random.bytes(9).toString('base64url')}`;
    if (ref.length > 100) throw new AppError('BAD_INPUT', 'payment reference is too long');
    return this.ctx.run(async (tx) => {
      const client = await mustClient(tx.store, a.clientId);
      const at = tx.nowIso();
      try {
        await tx.store.insertLedger({ clientId: client.id, amount: a.amount, kind: 'payment', ref, note: null, at });
      } catch (e) {
        if (isDuplicate(e)) return { client, duplicate: true };
        throw e;
      }
      await tx.store.addBalance(client.id, a.amount);
      await tx.journal({ channel: 'operator', clientId: client.id, action: 'payment', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `amount=${a.amount} ref=${ref}` });
      // a payment resumes suspended services at once, in this same transaction
      await this.resumeIfPaid(tx, client.id);
      return { client: await mustClient(tx.store, client.id), duplicate: false };
    });
  }
}
