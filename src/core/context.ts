import { AppError } from '../domain/errors.ts';
import type { Keys } from '../domain/crypto.ts';
import { seal } from '../domain/crypto.ts';
import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import { parseMobile } from '../domain/phone.ts';
import type { ClientView, NumberView, ObjectStatus, ObjectView, SmsPriority } from '../domain/types.ts';
import { PRIORITY } from '../domain/types.ts';
import { DuplicateKeyError } from './ports.ts';
import { onObjectDisarmed } from './schedules.ts';
import type { Clock, LiveEvent, LiveEvents, OutboxSignal, Random, Store, StoreTx } from './ports.ts';

export interface CoreDeps {
  /** Repeated alarms of one object, kind and zone within this window are grouped (default 5 min). */
  alarmGroupMs?: number;
  /**
   * This instance's name among those sharing the database (`ZHEDEL_INSTANCE`): the holder of
   * the call-outs it takes. Default 'local' (one instance).
   */
  instance?: string;
  /** How long a claim on call-outs holds without being renewed (default 30 s). */
  calloutLeaseMs?: number;
  store: Store;
  clock: Clock;
  random: Random;
  keys: Keys;
  timeZone: string;
  events?: LiveEvents;
  outboxSignal?: OutboxSignal;
  /** How long after an object's arm-by time the operators are alerted that it is still not armed (default 30 min). */
  scheduleGraceMs?: number;
  /** Supervision period of a panel account registered without one (default 600 s). */
  panelSupervisionS?: number;
}

/** An SMS for the outbox; `secret` texts (codes) are sealed. */
export interface SmsToQueue {
  priority: SmsPriority;
  kind: string;
  phone: string;
  clientId: number | null;
  text: string;
  secret: boolean;
  expiresAt: string | null;
}

/** What the journal helper needs; the rest defaults to null and the time to now. */
export type JournalEntry = Partial<JournalContent> & Pick<JournalContent, 'channel' | 'action' | 'auth' | 'outcome'>;

/**
 * What every use case shares for the life of the service: the ports and the settings. It
 * holds nothing that belongs to one transaction; `run` gives each transaction its own `Tx`.
 */
export class CoreContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly keys: Keys;
  readonly events: LiveEvents | undefined;
  readonly outboxSignal: OutboxSignal | undefined;
  readonly timeZone: string;
  readonly alarmGroupMs: number;
  readonly instance: string;
  readonly calloutLeaseMs: number;
  readonly scheduleGraceMs: number;
  readonly panelSupervisionS: number;

  constructor(deps: CoreDeps) {
    this.panelSupervisionS = deps.panelSupervisionS ?? 600;
    this.scheduleGraceMs = deps.scheduleGraceMs ?? 30 * 60_000;
    this.alarmGroupMs = deps.alarmGroupMs ?? 5 * 60_000;
    this.instance = deps.instance ?? 'local';
    this.calloutLeaseMs = deps.calloutLeaseMs ?? 30_000;
    this.store = deps.store;
    this.clock = deps.clock;
    this.random = deps.random;
    this.keys = deps.keys;
    this.events = deps.events;
    this.outboxSignal = deps.outboxSignal;
    this.timeZone = deps.timeZone;
  }

  nowIso(): string {
    return this.clock.now().toISOString();
  }

  /**
   * Runs `fn` in one store transaction with a fresh `Tx`. Resolves with fn's result once the
   * transaction committed; live events and the outbox signal it buffered go out only then.
   * Rejects with fn's error (everything rolled back, nothing sent). `fn` awaits only its `tx`.
   */
  async run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let tx: Tx | undefined;
    const result = await this.store.transaction((s) => {
      tx = new Tx(this, s);
      return fn(tx);
    });
    tx?.committed();
    return result;
  }

  /** Runs `fn` over one consistent snapshot, reading only; resolves with its result. */
  read<T>(fn: (store: StoreTx) => Promise<T>): Promise<T> {
    return this.store.read(fn);
  }
}

/**
 * One transaction of the core: the shared context plus what waits for the commit (live
 * events, whether SMS were queued). Use cases pass it to the steps they call, so a step runs
 * in its caller's transaction.
 */
export class Tx {
  private readonly afterCommit: LiveEvent[] = [];
  private smsQueued = false;

  constructor(readonly ctx: CoreContext, readonly store: StoreTx) {}

  now(): Date {
    return this.ctx.clock.now();
  }

  nowIso(): string {
    return this.ctx.nowIso();
  }

  /** A live event, sent once this transaction has committed. */
  emit(e: LiveEvent): void {
    this.afterCommit.push(e);
  }

  /** Appends an electronic document to the journal, in this transaction. */
  journal(c: JournalEntry): Promise<JournalRecord> {
    return this.store.appendJournal({
      at: c.at ?? this.nowIso(),
      channel: c.channel,
      phone: c.phone ?? null,
      clientId: c.clientId ?? null,
      objectCode: c.objectCode ?? null,
      action: c.action,
      auth: c.auth,
      challengeId: c.challengeId ?? null,
      operator: c.operator ?? null,
      outcome: c.outcome,
      reason: c.reason ?? null,
      detail: c.detail ?? null,
    });
  }

  /** Puts an SMS in the outbox. Texts with codes are sealed so only the sender can read them. */
  async enqueue(m: SmsToQueue): Promise<number> {
    const at = this.nowIso();
    const id = await this.store.enqueueSms({
      priority: PRIORITY[m.priority], kind: m.kind, phone: m.phone, clientId: m.clientId,
      body: m.secret ? null : m.text,
      bodyEnc: m.secret ? seal(this.ctx.keys.outbox, this.ctx.random.bytes(12), m.text, outboxAad(m.phone)) : null,
      secret: m.secret, at, expiresAt: m.expiresAt,
    });
    this.smsQueued = true;
    return id;
  }

  /** After the commit: the buffered live events, then the outbox signal. */
  committed(): void {
    const events = this.afterCommit.splice(0);
    for (const e of events) this.ctx.events?.emit(e);
    if (this.smsQueued) {
      this.smsQueued = false;
      this.ctx.outboxSignal?.queued();
    }
  }
}

/** The additional data an outbox text is sealed with: the number it goes to. */
export function outboxAad(phone: string): string {
  return `outbox:${phone}`;
}

/**
 * Sets an object's status unless it already has it, with a live event after the commit.
 * `at` is when the status began (an event's time), now by default.
 */
export async function applyStatus(tx: Tx, object: ObjectView, target: ObjectStatus, cause: string, at?: string): Promise<{ object: ObjectView; changed: boolean }> {
  const fresh = (await tx.store.getObject(object.id)) ?? object;
  if (fresh.status === target) return { object: fresh, changed: false };
  const since = at ?? tx.nowIso();
  await tx.store.setObjectStatus(fresh.id, target, since);
  const after = { ...fresh, status: target, statusSince: since };
  tx.emit({ type: 'object-status', clientId: fresh.clientId, objectCode: fresh.code, status: target, since, cause });
  if (target === 'disarmed') await onObjectDisarmed(tx, after, cause, since);
  return { object: after, changed: true };
}

export async function mustClient(store: StoreTx, id: number): Promise<ClientView> {
  if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('BAD_INPUT', 'client id must be a positive integer');
  const c = await store.getClient(id);
  if (!c) throw new AppError('CLIENT_NOT_FOUND', `no client with id ${id}`);
  return c;
}

export async function mustObject(store: StoreTx, code: string): Promise<ObjectView> {
  const o = await store.getObjectByCode(checkObjectCode(code));
  if (!o) throw new AppError('OBJECT_NOT_FOUND', `no object with code ${code}`);
  return o;
}

export async function mustLiveNumber(store: StoreTx, raw: string): Promise<NumberView> {
  const phone = parseMobile(raw);
  const n = await store.getLiveNumber(phone);
  if (!n) throw new AppError('NUMBER_NOT_FOUND', `${phone} is not a trusted number`);
  return n;
}

export function checkObjectCode(code: string): string {
  const c = String(code ?? '').trim();
  if (!/^\d{3,8}$/.test(c)) throw new AppError('BAD_INPUT', 'object code must be 3 to 8 digits');
  return c;
}

export function checkOperator(name: string): void {
  if (typeof name !== 'string' || name.trim().length < 1 || name.length > 100) {
    throw new AppError('BAD_INPUT', 'operator name is required (1 to 100 characters)');
  }
}

export function joinDetail(a: string | null, b: string | null): string | null {
  if (a && b) return `${a} ${b}`;
  return a ?? b;
}

/** Whether the store refused a write because its unique key is taken (a typed result, never message text). */
export function isDuplicate(e: unknown): boolean {
  return e instanceof DuplicateKeyError;
}
