import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import type { CodeClass } from '../domain/otp.ts';
import type { DayRule, ScheduleException } from '../domain/schedule.ts';
import type {
  ClientView, Lang, NumberState, NumberView, ObjectStatus, ObjectView,
} from '../domain/types.ts';

/**
 * A write refused because a row with the same unique key exists (an object code, a ledger
 * reference, an operator's name). Every engine throws this, never its own error, so callers
 * test `instanceof` and never an engine's message text; `key` names the violated key.
 */
export class DuplicateKeyError extends Error {
  constructor(readonly key: string) {
    super(`duplicate ${key}`);
    this.name = 'DuplicateKeyError';
  }
}

/**
 * Storage cannot be reached or did not answer in time (the database server is down, restarting
 * or failing over, the network to it is cut): nothing was changed, and the same request may
 * succeed shortly. Engines throw this instead of their driver's connection errors, so channels
 * can answer "try again" (HTTP 503) rather than report an internal error.
 */
export class StorageUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`storage unavailable: ${reason}`);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * What the core needs from storage: transactions, each handing its work a `StoreTx`.
 * Transactions of all processes and instances sharing the database are serialisable with
 * respect to each other's commits; nothing a transaction wrote is seen by others before it
 * commits. Inside a transaction the caller awaits only its `tx` (never the network), so a
 * transaction is short.
 */
export interface Store {
  /**
   * Runs `fn` in one write transaction. Resolves with fn's result once the commit is durable;
   * when fn rejects (or the commit fails) everything fn wrote is rolled back and the promise
   * rejects with that error. Rejects without running fn when storage is unavailable. Waits for
   * the transactions before it (of this store, and for the database's write lock) first.
   * Transactions do not nest: one started from inside another's `fn` rejects at once.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` over one consistent snapshot, for reading only: a write through its `tx`
   * rejects. Resolves with fn's result; rejects with fn's error.
   */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
}

/**
 * The data of one transaction. Every method resolves with its result once the statement ran
 * inside the transaction (not yet committed), and rejects with `DuplicateKeyError` when a
 * unique key is taken (only that write is undone: the transaction goes on) or with another
 * error on other constraint violations and storage failures (the caller should then let the
 * transaction fail). A `tx` used after its transaction ended rejects at once (a bug).
 */
export interface StoreTx {
  insertClient(c: { name: string; lang: Lang; balance: number; at: string }): Promise<number>;
  getClient(id: number): Promise<ClientView | undefined>;
  listClients(): Promise<ClientView[]>;
  setClientLang(id: number, lang: Lang): Promise<void>;
  addBalance(id: number, delta: number): Promise<void>;
  setSuspended(id: number, at: string | null): Promise<void>;

  insertObject(o: { clientId: number; code: string; address: string; at: string; calloutEnabled: boolean }): Promise<number>;
  getObjectByCode(code: string): Promise<ObjectView | undefined>;
  getObject(id: number): Promise<ObjectView | undefined>;
  listObjects(clientId?: number): Promise<ObjectView[]>;
  setObjectStatus(id: number, status: ObjectStatus, since: string): Promise<void>;

  insertNumber(n: { clientId: number; phone: string; state: NumberState; allObjects: boolean; objectIds: number[]; at: string }): Promise<number>;
  /** The number that is not removed, if any (at most one by the unique index). */
  getLiveNumber(phone: string): Promise<NumberView | undefined>;
  getNumber(id: number): Promise<NumberView | undefined>;
  listNumbers(clientId: number): Promise<NumberView[]>;
  setNumberState(id: number, state: NumberState, at: string, blockReason?: string | null): Promise<void>;
  /** Objects this number may control (all of the client's when allObjects). */
  objectsForNumber(n: NumberView): Promise<ObjectView[]>;

  insertChallenge(c: ChallengeRow): Promise<void>;
  getChallenge(id: string): Promise<ChallengeRow | undefined>;
  /** Newest first. */
  pendingChallenges(numberId: number): Promise<ChallengeRow[]>;
  updateChallenge(id: string, attempts: number, state: ChallengeRow['state']): Promise<void>;
  /** Marks every pending challenge of the number revoked; returns how many. */
  revokeChallenges(numberId: number): Promise<number>;

  /** One code SMS to this number, counted in its class's budget. */
  recordOtpSend(phone: string, cls: CodeClass, at: string): Promise<void>;
  otpSendsSince(phone: string, since: string): Promise<Array<{ cls: CodeClass; at: string }>>;
  /** Whether a code flood of this class was noted for this number after `since`. */
  codeFloodSince(phone: string, cls: CodeClass, since: string): Promise<boolean>;
  recordCodeFlood(phone: string, cls: CodeClass, at: string, alertId: number | null): Promise<void>;

  /** Operators' settings shared by every process (e.g. `SETTING_OTP_CEILING` in the core). */
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string, at: string, by: string | null): Promise<void>;

  appendJournal(c: JournalContent): Promise<JournalRecord>;
  journalPage(afterSeq: number, limit: number): Promise<JournalRecord[]>;
  searchJournal(f: JournalFilter): Promise<JournalRecord[]>;

  enqueueSms(m: OutboxInsert): Promise<number>;
  /** Newest first; `before` pages back by id; `duplicateRisk` keeps only messages that may have gone out twice. */
  listOutbox(f: { limit: number; state?: string; duplicateRisk?: boolean; before?: number }): Promise<OutboxRow[]>;

  insertLedger(l: { clientId: number; amount: number; kind: 'payment' | 'charge' | 'refund'; ref: string; note: string | null; at: string }): Promise<number>;

  listServices(): Promise<ServiceRow[]>;
  updateService(code: string, fees: { monthlyFee?: number; smsFee?: number }): Promise<boolean>;
  listSubscriptions(clientId: number): Promise<Array<{ service: string; state: string; startedAt: string }>>;

  insertSession(s: { tokenHash: string; numberId: number; clientId: number; channel: 'app' | 'chat'; at: string; expiresAt: string }): Promise<void>;
  getSession(tokenHash: string): Promise<SessionRow | undefined>;
  touchSession(tokenHash: string, at: string, expiresAt: string): Promise<void>;
  revokeSession(tokenHash: string, at: string): Promise<boolean>;
  /** Ends every live session of the number; returns how many. */
  revokeSessions(numberId: number, at: string): Promise<number>;
  setSessionChallenge(tokenHash: string, challengeId: string | null): Promise<void>;

  insertOperator(o: { name: string; role: 'operator' | 'admin'; tokenHash: string; at: string; expiresAt: string }): Promise<number>;
  getOperatorByToken(tokenHash: string): Promise<OperatorRow | undefined>;
  getOperatorByName(name: string): Promise<OperatorRow | undefined>;
  listOperators(): Promise<OperatorRow[]>;
  /** Disables (at) or enables (null) an operator; false when it already was. */
  setOperatorDisabled(id: number, at: string | null): Promise<boolean>;
  /** A new token replaces the old one, which stops working at once. */
  setOperatorToken(id: number, tokenHash: string, at: string, expiresAt: string): Promise<void>;
  touchOperator(id: number, at: string): Promise<void>;

  /** Stores a monitoring event once per source id; a repeat returns the stored one. */
  insertMonitoringEvent(e: MonitoringEventInsert): Promise<{ row: MonitoringEventRow; duplicate: boolean }>;
  setEventResult(id: number, result: string, at: string, zoneKey: string | null): Promise<void>;
  /** Alarms of this object and zone received after `since` that were sent to clients (for grouping). */
  recentAlarm(objectCode: string, zoneKey: string, since: string, exceptId: number): Promise<boolean>;
  /** The last alarm of the object that was told to clients and not yet followed by a restore. */
  openAlarm(objectCode: string): Promise<MonitoringEventRow | undefined>;
  setPriorStatus(objectId: number, prior: string | null): Promise<void>;
  setCalloutState(eventId: number, state: 'pending' | 'running' | 'done'): Promise<void>;
  /**
   * Claims alarm events whose call-outs are to be made by `holder` (an instance's name), for
   * a lease until `leaseUntil`, and returns them by id. Claimed are the events whose
   * call-outs are
   * - 'pending' (recorded by any process, never taken yet);
   * - 'running' under a lease that ran out (`lease_until <= at`, or no lease recorded): the
   *   instance placing them died or lost the database;
   * - 'running' held by `holder` itself, except the ids in `skip` (the events this instance is
   *   calling right now): its own claims from before a restart.
   * Each claimed event becomes 'running', held by `holder` until `leaseUntil`. An event held
   * by another holder under a live lease is never returned. Two instances claiming at once
   * never both get an event: on PostgreSQL one `UPDATE … WHERE id IN (SELECT id … FOR UPDATE
   * SKIP LOCKED) RETURNING *` (or a conditional UPDATE that re-checks the state and lease).
   */
  claimCallouts(holder: string, at: string, leaseUntil: string, skip: number[]): Promise<MonitoringEventRow[]>;
  /**
   * Extends to `leaseUntil` the leases of those of `eventIds` that are still 'running' and
   * held by `holder` (even when their lease ran out, as long as no other instance took them
   * over); returns their ids. An id missing from the answer was taken over or finished: its
   * holder must stop calling.
   */
  renewCallouts(eventIds: number[], holder: string, leaseUntil: string): Promise<number[]>;
  /**
   * Marks the event's call-outs 'done' when they are 'running' and held by `holder`; false
   * (nothing changed) when another instance took them over or they were done already.
   */
  finishCallout(eventId: number, holder: string): Promise<boolean>;
  getPriorStatus(objectId: number): Promise<string | null>;

  insertAlert(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null; at: string }): Promise<number>;
  /** Whether an alert of this kind for this number was raised after `since`. */
  recentAlert(kind: string, key: string, since: string): Promise<boolean>;
  listAlerts(openOnly: boolean, limit: number): Promise<AlertRow[]>;
  ackAlert(id: number, by: string, at: string): Promise<boolean>;

  insertCallout(c: { eventId: number; objectCode: string; phone: string; round: number; at: string }): Promise<number>;
  /** Whether someone already acknowledged this alarm on a call-out (by any instance). */
  calloutAcknowledged(eventId: number): Promise<boolean>;
  endCallout(id: number, result: string, at: string): Promise<void>;

  allSubscriptions(): Promise<Array<{ clientId: number; service: string; state: string }>>;
  addSubscription(clientId: number, service: string, at: string): Promise<void>;
  setSubscriptionState(clientId: number, service: string, state: 'active' | 'suspended'): Promise<void>;
  tariffFor(service: string, period: string): Promise<{ monthlyFee: number; smsFee: number } | undefined>;
  setTariffFrom(service: string, period: string, monthlyFee: number, smsFee: number): Promise<void>;
  /** Records a billing notice once; false when it was already sent for that period. */
  billingNotice(clientId: number, kind: string, period: string, at: string): Promise<boolean>;
  ledgerHas(ref: string): Promise<boolean>;

  /**
   * One hit of sliding-window rate limits shared by every instance on the database (the
   * semantics of `SlidingWindowLimiter` in src/domain/limiter.ts, per key). For each limit,
   * the hits of its `key` recorded at a time `t` with `t > at − windowMs` are counted. When
   * every limit has fewer than its `max`, this hit is recorded under every key at `at` and
   * the answer is true; otherwise nothing is recorded (a refused hit does not count) and the
   * answer is false. Hits of a key older than its window are deleted meanwhile (so a key never
   * holds more than `max` rows), and so are up to a hundred expired hits of any key (so hits
   * of keys never seen again do not pile up between housekeeping runs). Keys are at most 200
   * characters. The check and the record are one atomic step for the instances: two hits of
   * one key at the same time never both take its last place. On PostgreSQL: take
   * `pg_advisory_xact_lock(hashtextextended(key, 0))` for every key, in sorted order, before
   * counting (or run the transaction serialisable and retry), and delete the expired hits of
   * other keys with `FOR UPDATE SKIP LOCKED` in the sub-select (never waiting for another
   * instance's hit).
   */
  rateHit(limits: RateLimit[], at: string): Promise<boolean>;

  // ---- documents held for confirmation (agreement 5.10)
  insertHold(h: HoldInsert): Promise<number>;
  getHold(id: number): Promise<HoldRow | undefined>;
  /** The hold waiting on this challenge's code, if any. */
  holdForChallenge(challengeId: string): Promise<HoldRow | undefined>;
  /** Newest first; `open` keeps the undecided ones. */
  listHolds(f: { open?: boolean; clientId?: number; limit: number }): Promise<HoldRow[]>;
  /**
   * Moves a hold to `state` when it is in one of `from` (a conditional update: two instances
   * deciding at once never both succeed); `patch` fields are set with it. False when the hold
   * was not in one of `from`.
   */
  moveHold(id: number, from: HoldState[], state: HoldState, patch?: Partial<Pick<HoldRow, 'expiresAt' | 'decidedAt' | 'decidedBy' | 'result'>>): Promise<boolean>;
  /**
   * Claims holds whose call-back is to be placed by `holder`, as `claimCallouts` claims alarm
   * call-outs: 'pending' ones, 'calling' ones under a lease that ran out, and `holder`'s own
   * 'calling' ones except those in `skip`. Each becomes 'calling', held until `leaseUntil`.
   */
  claimHolds(holder: string, at: string, leaseUntil: string, skip: number[]): Promise<HoldRow[]>;
  /** Extends the leases of those of `ids` still 'calling' under `holder`; returns their ids. */
  renewHolds(ids: number[], holder: string, leaseUntil: string): Promise<number[]>;
  /** Counts one call-back call placed for the hold. */
  countHoldCall(id: number): Promise<void>;
  /** Undecided holds whose time ran out at `at`. */
  dueHolds(at: string, limit: number): Promise<HoldRow[]>;

  // ---------------------------------------------------------------- alarm panels (SIA DC-09)
  /**
   * Registers `account` for the object, replacing the object's earlier account (one per
   * object; the link state and the time it was lost carry over). `dueMs` starts its
   * supervision. DuplicateKeyError when another object has the account.
   */
  putPanel(p: { account: string; objectId: number; keySealed: string | null; supervisionS: number; dueMs: number; at: string; by: string | null }): Promise<void>;
  /** Removes the object's account; false when it had none. */
  deletePanel(objectId: number): Promise<boolean>;
  getPanel(account: string): Promise<PanelRow | undefined>;
  panelOfObject(objectId: number): Promise<PanelRow | undefined>;
  /** Every account, ordered by account. */
  listPanels(): Promise<PanelRow[]>;
  /**
   * The panel was heard from at `at` (`atMs` the same time): its last message and its next
   * due time (`atMs` + its supervision) move forward, never back. Returns the row as it is
   * after the update, undefined for an unknown account.
   */
  panelSeen(account: string, at: string, atMs: number): Promise<PanelRow | undefined>;
  /** Accounts whose link is 'up' and due at or before `atMs`, oldest due first. */
  duePanels(atMs: number, limit: number): Promise<PanelRow[]>;
  /** Link 'up' → 'lost' when still due at `atMs` (a conditional update); false when not. */
  markPanelLost(account: string, atMs: number, at: string): Promise<boolean>;
  /** Link 'lost' → 'up'; false when it was not lost. */
  markPanelUp(account: string): Promise<boolean>;
  /** Remembers the last event report kept from the account. */
  setPanelFrame(account: string, frame: string, atMs: number): Promise<void>;

  // ---------------------------------------------------------------- schedules

  /** The object's schedule with every exception (oldest date first), if it has one. */
  getSchedule(objectId: number): Promise<ScheduleRow | undefined>;
  /** Every schedule, by object id, each with its exceptions dated `exceptionsFrom` or later. */
  listSchedules(exceptionsFrom: string): Promise<ScheduleRow[]>;
  /** Creates the object's schedule, or replaces its weekly rules and flag (its exceptions stay). */
  putSchedule(s: { objectId: number; days: DayRule[]; notifyOffSchedule: boolean; at: string; by: string | null }): Promise<void>;
  /** Removes the object's schedule with its rules and exceptions; false when it had none. */
  deleteSchedule(objectId: number): Promise<boolean>;
  /** Sets the exception of one date of a scheduled object (replacing one of that date). */
  putScheduleException(objectId: number, e: ScheduleException): Promise<void>;
  /** Removes the exception of one date; false when there was none. */
  deleteScheduleException(objectId: number, date: string): Promise<boolean>;
  /**
   * Records that a notice of `kind` about the object was given for a local date; true the
   * first time, false (nothing changed) when it already was, by any instance.
   */
  scheduleNotice(objectId: number, date: string, kind: string, at: string): Promise<boolean>;

  // ---- duress code
  /** The client's duress code row (its hash, when set), if one was ever set. */
  getDuress(clientId: number): Promise<DuressRow | undefined>;
  /**
   * Sets the client's duress code to `codeHash` (`set_at` = at), or clears it with null
   * (`cleared_at` = at); the other time is kept.
   */
  setDuress(clientId: number, codeHash: Buffer | null, at: string, by: string): Promise<void>;

  // ---- call history

  /** A call's row at its start (its id is the ARI channel id, unique). */
  insertCall(c: CallInsert): Promise<void>;
  /**
   * Updates the call: `actions` are appended (the list is capped at `CALL_ACTIONS_MAX`), the
   * other given fields are set (client id, object code and phone only when given); the end
   * (`endedAt`, `outcome`) and `answeredAt` are set once, a second end changes neither. False
   * when there is no call with this id.
   */
  updateCall(id: string, u: CallUpdate): Promise<boolean>;
  /** Newest first (by `seq`); `before` pages back by seq; `from` inclusive, `until` exclusive on the start time. */
  listCalls(f: CallFilter): Promise<CallRow[]>;
}

export const HOLD_STATES = ['awaiting-code', 'pending', 'calling', 'confirmed', 'refused', 'expired', 'cancelled'] as const;
export type HoldState = (typeof HOLD_STATES)[number];
/** States of a hold that is not decided yet. */
export const OPEN_HOLD_STATES: HoldState[] = ['awaiting-code', 'pending', 'calling'];

export interface HoldInsert {
  clientId: number;
  numberId: number;
  objectId: number;
  action: 'arm' | 'disarm';
  channel: string;
  challengeId: string | null;
  /** Why it is held, comma separated (see `HoldReason`). */
  reasons: string;
  state: HoldState;
  requestedAt: string;
  expiresAt: string;
}

/** An alarm panel's account (SIA DC-09) and its supervision. */
export interface PanelRow {
  account: string;
  objectId: number;
  objectCode: string;
  /** The AES key sealed under the service secret; null when the panel sends in clear. */
  keySealed: string | null;
  supervisionS: number;
  link: 'up' | 'lost';
  lastSeenAt: string | null;
  dueMs: number;
  lostAt: string | null;
  /** The last event report kept (its identity without the time) and when it was received. */
  lastFrame: string | null;
  lastFrameMs: number | null;
  createdAt: string;
  updatedAt: string;
  updatedBy: string | null;
}

export interface HoldRow extends HoldInsert {
  id: number;
  holder: string | null;
  leaseUntil: string | null;
  calls: number;
  decidedAt: string | null;
  decidedBy: string | null;
  result: string | null;
}

/** An object's schedule as stored. */
export interface ScheduleRow {
  objectId: number;
  days: DayRule[];
  notifyOffSchedule: boolean;
  exceptions: ScheduleException[];
  updatedAt: string;
  updatedBy: string | null;
}

/** A client's duress code: its HMAC only (null once cleared), and when it was last set and cleared. */
export interface DuressRow {
  clientId: number;
  codeHash: Buffer | null;
  setAt: string | null;
  clearedAt: string | null;
  changedBy: string;
}

/** A call as it starts. */
export interface CallInsert {
  id: string;
  direction: 'in' | 'out';
  purpose: string;
  phone: string | null;
  clientId: number | null;
  objectCode: string | null;
  startedAt: string;
  /** Alarm call-outs: the monitoring event and the round down the contact list. */
  eventId: number | null;
  round: number | null;
}

export interface CallUpdate {
  answeredAt?: string;
  clientId?: number;
  objectCode?: string;
  phone?: string;
  actions?: string[];
  endedAt?: string;
  outcome?: string;
}

export interface CallFilter {
  limit: number;
  objectCode?: string;
  phone?: string;
  purpose?: string;
  from?: string;
  until?: string;
  before?: number;
}

export interface CallRow extends CallInsert {
  /** The row's place in the history (newest is highest): the key `before` pages by. */
  seq: number;
  answeredAt: string | null;
  endedAt: string | null;
  outcome: string | null;
  actions: string[];
}

/** One sliding-window limit: at most `max` hits of `key` in any `windowMs`. */
export interface RateLimit {
  key: string;
  max: number;
  windowMs: number;
}

export interface AlertRow {
  id: number;
  kind: string;
  clientId: number | null;
  objectCode: string | null;
  phone: string | null;
  detail: string | null;
  createdAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export interface ServiceRow {
  code: string;
  nameRu: string;
  nameKk: string;
  monthlyFee: number;
  smsFee: number;
  active: boolean;
}

export interface SessionRow {
  tokenHash: string;
  numberId: number;
  clientId: number;
  channel: 'app' | 'chat';
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  revokedAt: string | null;
  pendingChallenge: string | null;
}

export interface OperatorRow {
  id: number;
  name: string;
  role: 'operator' | 'admin';
  createdAt: string;
  disabledAt: string | null;
  /** When the current token was issued (add or rotate). */
  tokenIssuedAt: string | null;
  /** The token stops working at this time; null only for a damaged row (treated as expired). */
  tokenExpiresAt: string | null;
  /** Last authenticated use, to the minute. */
  lastUsedAt: string | null;
}

export interface MonitoringEventInsert {
  sourceId: string;
  objectCode: string;
  type: string;
  kind: string | null;
  zone: number | null;
  eventAt: string;
  receivedAt: string;
}

export interface MonitoringEventRow extends MonitoringEventInsert {
  id: number;
  processedAt: string | null;
  result: string | null;
}

export interface ChallengeRow {
  id: string;
  purpose: string;
  numberId: number;
  objectId: number | null;
  channel: string;
  codeHash: Buffer;
  createdAt: string;
  expiresAt: string;
  attempts: number;
  state: 'pending' | 'used' | 'failed' | 'expired' | 'revoked';
  operator: string | null;
}

export interface JournalFilter {
  clientId?: number;
  phone?: string;
  objectCode?: string;
  action?: string;
  channel?: string;
  outcome?: string;
  since?: string;
  until?: string;
  beforeSeq?: number;
  /**
   * Only what one trusted number may see: its own documents and those about these objects,
   * never the operators' records of a duress code.
   */
  visibleTo?: { phone: string; objectCodes: string[] };
  limit: number;
}

export interface OutboxInsert {
  priority: 0 | 1 | 2;
  kind: string;
  phone: string;
  clientId: number | null;
  body: string | null;
  bodyEnc: Buffer | null;
  secret: boolean;
  at: string;
  expiresAt: string | null;
}

export interface OutboxRow {
  id: number;
  priority: number;
  kind: string;
  phone: string;
  clientId: number | null;
  body: string | null;
  bodyEnc: Buffer | null;
  secret: boolean;
  state: string;
  createdAt: string;
  expiresAt: string | null;
  attempts: number;
  error: string | null;
  updatedAt: string;
  partsTotal: number | null;
  duplicateRisk: boolean;
  doneAt: string | null;
  /** The SMSC's message ids of the accepted parts, in part order. */
  messageIds: string[];
}

export interface Clock {
  now(): Date;
}

export interface Random {
  /** Uniform integer in [0, max) from a CSPRNG. */
  int(max: number): number;
  bytes(n: number): Buffer;
}

/** Live events for connected app clients and consoles. Emitting never throws or blocks. */
export type LiveEvent =
  | { type: 'object-status'; clientId: number; objectCode: string; status: ObjectStatus; since: string; cause: string }
  | { type: 'alarm'; clientId: number; objectCode: string; kind: string; zone: number | null; at: string }
  | { type: 'operator-alert'; id: number; kind: string; objectCode: string | null; detail: string | null }
  | { type: 'number-state'; clientId: number; numberId: number; phone: string; state: NumberState }
  | { type: 'hold'; id: number; clientId: number; objectCode: string; action: string; state: string };

export interface LiveEvents {
  emit(e: LiveEvent): void;
}

/**
 * Carries live events between the instances of the service that share one database, so that
 * an event emitted by one instance (an alarm, a status change, an operator's alert) reaches
 * the event streams open on every instance. Each instance opens its own `LiveBus` (one
 * endpoint) next to its store; the instance's event hub delivers its own events to its own
 * listeners directly and hands them to `publish`, and delivers what `subscribe` brings from
 * the others.
 *
 * - `publish` is called only after the transaction that caused the event committed. It never
 *   throws and never blocks the caller: sending happens in the background (on PostgreSQL,
 *   `SELECT pg_notify(channel, payload)` outside any transaction, the payload the event's JSON
 *   with the publishing endpoint's origin id; payloads stay far below the 8000-byte limit).
 * - Every subscriber of every OTHER endpoint on the same database is called once per
 *   published event (at most once: an event lost while the bus is down is not sent again;
 *   live events are hints, and every stream reads the current state when it opens). Events of
 *   one publisher arrive in the order they were published.
 * - An endpoint never delivers its own events to its own subscribers (origin filtering: each
 *   endpoint has a unique origin id, e.g. the instance's name and a random suffix per start,
 *   and drops what carries its own), so an instance never shows its own event twice.
 * - Subscribers get a copy of the event (as if it came through the network); a subscriber that
 *   throws does not stop the others.
 * - `close` ends the endpoint: it stops listening, and later `publish` calls do nothing.
 */
export interface LiveBus {
  publish(e: LiveEvent): void;
  /** Returns the function that ends this subscription. */
  subscribe(cb: (e: LiveEvent) => void): () => void;
  close(): Promise<void>;
}

/** Told after a transaction commits that put SMS in the outbox, so a sender can wake up. */
export interface OutboxSignal {
  queued(): void;
}

/** The answer of one readiness check. */
export interface ReadinessResult {
  ok: boolean;
  detail?: string;
}

/** A named dependency the service needs, for /ready. */
export interface ReadinessCheck {
  name: string;
  /** Resolves quickly; never throws. `required` checks make /ready fail when down. */
  check(): ReadinessResult;
  required: boolean;
}

/** A message claimed for sending, with the parts the SMSC already accepted. */
export interface ClaimedSms {
  id: number;
  priority: number;
  kind: string;
  phone: string;
  body: string | null;
  bodyEnc: Buffer | null;
  secret: boolean;
  expiresAt: string | null;
  attempts: number;
  concatRef: number;
  duplicateRisk: boolean;
  /** Part numbers (1-based) already accepted by the SMSC: never sent again. */
  acceptedParts: number[];
}

/** A part the SMSC accepted, with the keys its delivery receipt may carry. */
export interface PartAccepted {
  outboxId: number;
  seq: number;
  total: number;
  messageId: string;
  /** The key the id is found by (its normal form: trimmed, lower case, no leading zeros). */
  key: string;
}

/** A delivery receipt to apply: the keys of stored ids it may name, and the part's new state. */
export interface ReceiptUpdate {
  keys: { exact: string[]; cross: string[] };
  state: PartState;
  error: string | null;
}

/** What a receipt settled: its message, and the message's final state once every part is settled (else null). */
export interface ReceiptApplied {
  outboxId: number;
  messageState: string | null;
}

export type MessageOutcome =
  | { outboxId: number; state: 'submitted'; eraseBody: boolean; total: number }
  | { outboxId: number; state: 'retry'; notBefore: string; error: string; duplicateRisk: boolean }
  | { outboxId: number; state: 'failed'; error: string; duplicateRisk: boolean; eraseBody: boolean }
  | { outboxId: number; state: 'expired' };

export type PartState = 'delivered' | 'undeliverable' | 'expired' | 'deleted' | 'rejected' | 'unknown' | 'accepted';

export interface OutboxCounts {
  [state: string]: number;
}

/**
 * The outbox as the SMS dispatcher sees it. Every method runs in a transaction of its own and
 * resolves once its change is committed (durably); it rejects only when storage fails (disk, a
 * lost database), and a method that rejected changed nothing.
 *
 * Several instances may send from one outbox. A message being sent ('sending') is held by one
 * instance (its `holder`, the instance's name) under a lease: until `lease_until` no other
 * instance touches it. The holder renews the lease while the message is in flight
 * (`renewClaims`); a message whose lease ran out (its holder died, or lost the database) is
 * taken back by the next `claim` of any instance, marked as a possible duplicate, exactly as a
 * restart takes back its own (`recoverSending`). Outcomes are recorded only by the holder.
 */
export interface Outbox {
  /**
   * At the start of instance `holder`: messages it held when it stopped (its own 'sending'
   * claims, whatever their lease) and messages whose lease ran out by `at` (or that have no
   * lease recorded) go back to the queue, marked as possibly duplicated (a part may have
   * reached the SMSC without its answer being stored). Claims of other instances under a live
   * lease are left alone. Returns how many went back.
   */
  recoverSending(at: string, holder: string): Promise<number>;
  /**
   * In one transaction, in this order:
   * 1. takes back every 'sending' message whose lease ran out (`lease_until <= now`, or none
   *    recorded): queued again at once, marked as a possible duplicate, its attempts kept
   *    (`takenOver` counts them);
   * 2. expires queued messages past their lifetime (codes are never sent late; `expired`);
   * 3. claims up to `limit` due messages (`not_before <= now`), most urgent first (priority,
   *    then id), marking them 'sending', held by `holder` until `leaseUntil`, and counting the
   *    attempt.
   * Returns the claimed messages in that order. Two instances claiming at once never get the
   * same message: on PostgreSQL step 3 is one `UPDATE outbox SET … WHERE id IN (SELECT id FROM
   * outbox WHERE state = 'queued' AND not_before <= $now ORDER BY priority, id LIMIT $limit
   * FOR UPDATE SKIP LOCKED) RETURNING …`, and step 1 the same shape over `state = 'sending'
   * AND (lease_until IS NULL OR lease_until <= $now)` with `FOR UPDATE SKIP LOCKED` (a row
   * another instance is taking back or renewing at that moment is skipped, never waited for,
   * so two claims never deadlock).
   */
  claim(now: string, limit: number, holder: string, leaseUntil: string): Promise<{ claimed: ClaimedSms[]; expired: number; takenOver: number }>;
  /**
   * Extends to `leaseUntil` the lease of those of `ids` that are still 'sending' and held by
   * `holder` (also when their lease ran out, as long as nobody took them back meanwhile);
   * returns their ids. An id missing from the answer is no longer this holder's.
   */
  renewClaims(ids: number[], holder: string, leaseUntil: string): Promise<number[]>;
  /**
   * Records accepted parts (with their receipt keys) and message outcomes, all in one
   * transaction. A part recorded twice is kept once; parts are recorded whoever holds the
   * message (the SMSC accepted them). An outcome is applied only to a message that is still
   * 'sending' and held by `holder`: a late outcome of an instance whose claim was taken back
   * never overwrites the new holder's state. Returns the ids whose outcome was not applied.
   * Does nothing when both lists are empty.
   */
  record(parts: PartAccepted[], outcomes: MessageOutcome[], at: string, holder: string): Promise<number[]>;
  /**
   * Delivery receipts, in one transaction, in order: each finds its part by a key (exact ones
   * first, newest part first) and settles it; when every part of a message is settled the
   * message takes its final state. One answer per receipt: what it settled, or null when no
   * part matches (yet).
   */
  applyReceipts(receipts: ReceiptUpdate[], at: string): Promise<Array<ReceiptApplied | null>>;
  /** Messages by state. */
  counts(): Promise<OutboxCounts>;
  /** The parts of one message in part order, with the SMSC's ids and their states. */
  parts(outboxId: number): Promise<Array<{ seq: number; total: number; messageId: string; state: string; error: string | null }>>;
  /** When the next queued message becomes due (for the dispatcher's timer), or null. */
  nextDue(): Promise<string | null>;
}

/** What housekeeping changed, by kind. */
export interface HousekeepingFigures {
  /** Pending codes past their lifetime, now expired. */
  codes: number;
  /** Live sessions past their life, now ended. */
  sessions: number;
  /** Sessions ended more than 30 days ago, deleted. */
  oldSessions: number;
  /** SMS queued for more than two days, expired (their texts erased). */
  staleSms: number;
  /** Code sends older than a day (past every budget window), deleted. */
  otpSends: number;
  /** Code flood notes older than a day, deleted. */
  codeFloods: number;
  /** Rate-limit hits past their window, deleted. */
  rateHits: number;
  /** Finished runs of scheduled jobs older than 90 days, deleted. */
  jobRuns: number;
}

/** A run of a scheduled job that started and was never finished, and whose lease ran out. */
export interface AbandonedJob {
  job: string;
  slot: string;
  holder: string;
  /** How many times the run was started (the first start and each takeover). */
  attempts: number;
}

/**
 * Figures read from storage each time one is asked for (a /metrics scrape, the status watcher).
 * Each resolves with the figure read now; rejects when storage fails.
 */
export interface StoreFigures {
  outboxByState(): Promise<Record<string, number>>;
  /** Documents in the journal (its last sequence number). */
  documents(): Promise<number>;
  /** Code SMS sent in the hour before now. */
  otpSendsLastHour(): Promise<number>;
  /** Refused code confirmations in the journal. */
  codeFailures(): Promise<number>;
  /** Operators' alerts not yet acknowledged. */
  openAlerts(): Promise<number>;
  objectStatuses(): Promise<Array<{ code: string; clientId: number; status: string; since: string }>>;
  /** Duress codes entered (silent panic alarms) in the journal. */
  duressAlarms(): Promise<number>;
}

/**
 * Storage as the operations side sees it: scheduled housekeeping and backups, /metrics,
 * /ready, the command line. Each method resolves when done and rejects when storage fails.
 */
export interface StoreAdmin {
  /** Expires and deletes what outlived its use as of `at`, in one transaction; returns the figures. */
  housekeeping(at: Date): Promise<HousekeepingFigures>;
  /** Live figures; each read runs when called (this call itself reads nothing). */
  metrics(): StoreFigures;
  /** Resolves when the database answers a trivial query; rejects (with the reason) when it cannot. */
  ping(): Promise<void>;
  /**
   * An online, consistent copy into the new file `to` (writes go on meanwhile), private to the
   * service's user (file 0600; a folder created for it 0700), then checked. Resolves with the
   * copy's integrity check ('ok', or the problems found); rejects when the copy could not be
   * written, leaving no file behind.
   */
  backup(to: string): Promise<{ integrity: string }>;
  /** The database's own integrity check: 'ok', or the problems found. */
  verifyIntegrity(): Promise<string>;
  /** The schema version the database is at. */
  schemaVersion(): Promise<number>;
  /**
   * A value that moves whenever another process committed a change (a revoked session, a
   * blocked number); this connection's own changes need not move it. Cheap: read several
   * times a second while event streams are open.
   */
  changeMarker(): Promise<number | string>;
  /**
   * Scheduled jobs run once across the instances: each scheduled run of job `job` (a name
   * such as 'billing') is keyed by its `slot` (the scheduled minute, an ISO time), one row per
   * (job, slot). `acquireJob` answers true, and makes `holder` the run's holder under a lease
   * until `leaseUntil`, when
   * - no run of (job, slot) exists: it is recorded (started at `at`, attempts 1);
   * - the run exists, was never finished and its lease ran out (`lease_until <= at`): its
   *   holder died; the run is taken over (holder and lease replaced, attempts + 1).
   * It answers false, changing nothing, when the run is finished (done or failed) or held
   * under a live lease, by any holder (this one too: a second start in one process waits
   * for the lease like any other instance). Atomic across instances: of two acquiring at
   * once, one gets true. On PostgreSQL: `INSERT … ON CONFLICT (job, slot) DO UPDATE SET holder
   * = …, lease_until = …, attempts = job_runs.attempts + 1 WHERE job_runs.finished_at IS NULL
   * AND job_runs.lease_until <= $at RETURNING 1`.
   */
  acquireJob(job: string, slot: string, holder: string, at: Date, leaseUntil: Date): Promise<boolean>;
  /**
   * Extends the lease of a run that is unfinished and held by `holder` (even when its lease
   * ran out, as long as nobody took it over); false when it is no longer this holder's.
   */
  renewJob(job: string, slot: string, holder: string, leaseUntil: Date): Promise<boolean>;
  /**
   * Marks the run finished at `at` with its outcome ('failed' with a short detail) when it
   * is unfinished and held by `holder`; false (nothing changed) otherwise. A finished run is
   * never acquired again.
   */
  finishJob(job: string, slot: string, holder: string, at: Date, outcome: 'done' | 'failed', detail: string | null): Promise<boolean>;
  /**
   * Runs never finished whose lease ran out by `at` and that were started fewer than
   * `maxAttempts` times, oldest slot first: what a died holder left, for any instance to
   * resume with `acquireJob`.
   */
  abandonedJobs(at: Date, maxAttempts: number): Promise<AbandonedJob[]>;
  /** Resolves once the transactions under way ended and the database is closed; later calls do nothing. */
  close(): Promise<void>;
}
