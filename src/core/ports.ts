import type { JournalContent, JournalRecord } from '../domain/journal.ts';
import type { CodeClass } from '../domain/otp.ts';
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
  /** Alarm events whose call-outs wait (or were running when the service stopped). */
  calloutsWaiting(): Promise<MonitoringEventRow[]>;
  getPriorStatus(objectId: number): Promise<string | null>;

  insertAlert(a: { kind: string; clientId: number | null; objectCode: string | null; phone: string | null; detail: string | null; at: string }): Promise<number>;
  /** Whether an alert of this kind for this number was raised after `since`. */
  recentAlert(kind: string, key: string, since: string): Promise<boolean>;
  listAlerts(openOnly: boolean, limit: number): Promise<AlertRow[]>;
  ackAlert(id: number, by: string, at: string): Promise<boolean>;

  insertCallout(c: { eventId: number; objectCode: string; phone: string; round: number; at: string }): Promise<number>;
  endCallout(id: number, result: string, at: string): Promise<void>;

  allSubscriptions(): Promise<Array<{ clientId: number; service: string; state: string }>>;
  addSubscription(clientId: number, service: string, at: string): Promise<void>;
  setSubscriptionState(clientId: number, service: string, state: 'active' | 'suspended'): Promise<void>;
  tariffFor(service: string, period: string): Promise<{ monthlyFee: number; smsFee: number } | undefined>;
  setTariffFrom(service: string, period: string, monthlyFee: number, smsFee: number): Promise<void>;
  /** Records a billing notice once; false when it was already sent for that period. */
  billingNotice(clientId: number, kind: string, period: string, at: string): Promise<boolean>;
  ledgerHas(ref: string): Promise<boolean>;
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
  /** Only what one trusted number may see: its own documents and those about these objects. */
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
  | { type: 'number-state'; clientId: number; numberId: number; phone: string; state: NumberState };

export interface LiveEvents {
  emit(e: LiveEvent): void;
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
  keys: string[];
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
 * lost database), and a method that rejected changed nothing. Several processes may use one outbox: a message is
 * claimed by one of them only.
 */
export interface Outbox {
  /**
   * After a restart: messages caught mid-send ('sending') go back to the queue, marked as
   * possibly duplicated (a part may have reached the SMSC without its answer being stored).
   * Returns how many.
   */
  recoverSending(at: string): Promise<number>;
  /**
   * Expires queued messages past their lifetime (codes are never sent late), then claims up
   * to `limit` due messages, most urgent first (priority, then age), marking them 'sending'
   * and counting the attempt. Returns the claimed messages in that order and how many expired.
   */
  claim(now: string, limit: number): Promise<{ claimed: ClaimedSms[]; expired: number }>;
  /**
   * Records accepted parts (with their receipt keys) and message outcomes, all in one
   * transaction. A part recorded twice is kept once. Does nothing when both lists are empty.
   */
  record(parts: PartAccepted[], outcomes: MessageOutcome[], at: string): Promise<void>;
  /**
   * A delivery receipt: finds the part by any of its keys (exact ones first, newest part
   * first) and settles it; when every part of the message is settled the message takes its
   * final state (`messageState`, else null). Returns null when no part matches (yet).
   */
  applyReceipt(keys: { exact: string[]; cross: string[] }, state: PartState, error: string | null, at: string): Promise<{ outboxId: number; messageState: string | null } | null>;
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
  /** Resolves once the transactions under way ended and the database is closed; later calls do nothing. */
  close(): Promise<void>;
}
