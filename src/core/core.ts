import type { JournalRecord, VerifyResult } from '../domain/journal.ts';
import type { BlockReason, Channel, ClientView, Lang, NumberView, ObjectAction, ObjectView } from '../domain/types.ts';
import type { AppError } from '../domain/errors.ts';
import { Alarms } from './alarms.ts';
import type { AlertInput, CalloutPlan, MonitoringEventIn, RecordedEvent } from './alarms.ts';
import { Billing, nextPeriod } from './billing.ts';
import { Calls } from './calls.ts';
import type { CallEnd, CallProgress, CallQuery, CallStart } from './calls.ts';
import { Challenges, confirmIn } from './challenges.ts';
import { Confirmations } from './confirmations.ts';
import type { HoldCallPlan, HoldDecision, HoldView } from './confirmations.ts';
import type { ConfirmationRules } from '../domain/policy.ts';
import type { HoldState } from './ports.ts';
import type { ConfirmInput, ConfirmResult, OtpLimits } from './challenges.ts';
import type { ClientHttpCore, SmsCore, TelephonyCore, TextCore } from './channels.ts';
import { ClientRequests, identify } from './client-requests.ts';
import type { ClientRequest, Identity, Inquiry, RequestResult, SignInResult } from './client-requests.ts';
import { CoreContext } from './context.ts';
import { DuressCodes } from './duress-codes.ts';
import type { DuressConfirmResult, DuressRequestResult, DuressStatus } from './duress-codes.ts';
import type { CoreDeps, SmsToQueue } from './context.ts';
import { answerText } from './conversation.ts';
import type { TextAnswer } from './conversation.ts';
import type { AlertRow, CallRow, JournalFilter, MonitoringEventRow, OutboxRow, RateLimit } from './ports.ts';
import { Panels } from './panels.ts';
import type { PanelKey, PanelMessage, PanelMessageResult, PanelView } from './panels.ts';
import { Records } from './records.ts';
import { Registry } from './registry.ts';
import { Schedules } from './schedules.ts';
import type { ObjectSchedule, ScheduleCheck, ScheduleInquiry, ScheduleInquiryResult } from './schedules.ts';
import type { DayRule } from '../domain/schedule.ts';

export { MAX_CLOCK_AHEAD_MS } from './alarms.ts';
export type { CalloutPlan } from './alarms.ts';
export type { HoldCallPlan, HoldDecision, HoldView } from './confirmations.ts';
export type { CallEnd, CallProgress, CallQuery, CallStart } from './calls.ts';
export { SETTING_OTP_CEILING } from './challenges.ts';
export type { ConfirmRefusal, ConfirmResult } from './challenges.ts';
export type { ClientRequest, Identity, RequestResult } from './client-requests.ts';
export { outboxAad } from './context.ts';
export type { CoreDeps } from './context.ts';
export { POSSIBLE_DUPLICATE } from './records.ts';
export type { DuressConfirmResult, DuressRequestResult, DuressStatus } from './duress-codes.ts';

/**
 * The use cases every channel calls. Each public method runs in one transaction and writes
 * its electronic document to the journal in that same transaction, so a request is either
 * done and journalled or neither. Methods that refuse a client return a result; methods an
 * operator calls throw AppError on bad input and change nothing. The work is done by one
 * module per use case (client requests, challenges, registry, billing, alarms, records)
 * around one shared context; this class only hands each call to its module. Every method
 * that reads or writes storage resolves once its transaction committed (or its snapshot was
 * read) and rejects with the error that undid it; the pure helpers (`periodOf`, `outboxText`)
 * answer at once.
 */
export class Core implements TelephonyCore, SmsCore, TextCore, ClientHttpCore {
  private readonly ctx: CoreContext;
  readonly timeZone: string;
  private readonly clients: ClientRequests;
  private readonly challenges: Challenges;
  private readonly registry: Registry;
  private readonly billing: Billing;
  private readonly alarms: Alarms;
  private readonly records: Records;
  private readonly confirmations: Confirmations;
  private readonly schedules: Schedules;
  private readonly duress: DuressCodes;
  private readonly calls: Calls;
  private readonly panels: Panels;

  constructor(deps: CoreDeps) {
    const ctx = new CoreContext(deps);
    this.ctx = ctx;
    this.timeZone = ctx.timeZone;
    this.clients = new ClientRequests(ctx);
    this.challenges = new Challenges(ctx);
    this.registry = new Registry(ctx);
    this.billing = new Billing(ctx);
    this.alarms = new Alarms(ctx);
    this.records = new Records(ctx);
    this.confirmations = new Confirmations(ctx);
    this.schedules = new Schedules(ctx);
    this.duress = new DuressCodes(ctx);
    this.calls = new Calls(ctx);
    this.panels = new Panels(ctx, this.alarms);
  }

  // ---------------------------------------------------------------- client requests

  /** Who is this number? Reads only; channels journal what they do with the answer. */
  identify(raw: string | null | undefined): Promise<Identity> {
    return this.clients.identify(raw);
  }

  /** Remembers the language a caller chose. */
  setLanguage(clientId: number, lang: Lang, channel: Channel, phone: string | null): Promise<void> {
    return this.clients.setLanguage(clientId, lang, channel, phone);
  }

  /** status / arm / disarm from a client channel, identified by its trusted number. */
  request(req: ClientRequest): Promise<RequestResult> {
    return this.clients.request(req);
  }

  /** Balance, help, an unrecognised command, a call: identified and journalled. */
  inquiry(a: Inquiry): Promise<Identity> {
    return this.clients.inquiry(a);
  }

  /** Sign-in by dynamic authentication (app, chat): a code to an active trusted number. */
  requestSignIn(a: { channel: 'app' | 'chat'; phone: string; ref?: string }): Promise<SignInResult> {
    return this.clients.requestSignIn(a);
  }

  /**
   * One SMS command from a phone and its answer, in one transaction: the command (request,
   * code or inquiry) is handled and journalled, and the reply, when there is one, is queued in
   * the outbox in the client's language; both commit together or neither. Resolves with the
   * answer and the queued reply's outbox id (null: no reply, e.g. to an unknown sender).
   */
  handleText(a: { channel: 'sms'; phone: string; text: string; ref?: string }): Promise<TextAnswer & { outboxId: number | null }> {
    return this.ctx.run(async (tx) => {
      const inTx: TextCore = {
        timeZone: this.timeZone,
        request: (req) => this.clients.requestIn(tx, req),
        confirm: (c) => confirmIn(tx, c),
        inquiry: (i) => this.clients.inquiryIn(tx, i),
        schedule: (q) => this.schedules.inquiryIn(tx, q),
      };
      const answer = await answerText(inTx, { channel: a.channel, phone: a.phone, text: a.text, ...(a.ref ? { ref: a.ref } : {}) });
      if (answer.reply === null) return { ...answer, outboxId: null };
      // who the sender is after the command (a code may have just confirmed the number)
      const id = await identify(tx.store, a.phone);
      const outboxId = await tx.enqueue({
        priority: 'info', kind: 'reply', phone: id.phone ?? a.phone, clientId: id.ok ? id.client.id : id.client?.id ?? null,
        text: answer.reply, secret: false, expiresAt: null,
      });
      return { ...answer, outboxId };
    });
  }

  // ---------------------------------------------------------------- codes

  /** A code comes back (see `Challenges.confirm`). */
  confirm(a: ConfirmInput): Promise<ConfirmResult> {
    return this.challenges.confirm(a);
  }

  /** The ceiling on code SMS per number per hour: the operators' setting, or the default. */
  otpCeiling(): Promise<number> {
    return this.challenges.otpCeiling();
  }

  /** The ceiling and how it is shared between the classes. */
  otpLimits(): Promise<OtpLimits> {
    return this.challenges.otpLimits();
  }

  /** An operator changes the ceiling on code SMS per number per hour; journalled. */
  setOtpCeiling(a: { perHour: number; operator: string }): Promise<OtpLimits> {
    return this.challenges.setOtpCeiling(a);
  }

  // ---------------------------------------------------------------- operators: registry

  addClient(a: { name: string; lang?: Lang; balance?: number; services?: string[]; operator: string }): Promise<ClientView> {
    return this.registry.addClient(a);
  }

  listClients(): Promise<ClientView[]> {
    return this.registry.listClients();
  }

  getClient(id: number): Promise<ClientView> {
    return this.registry.getClient(id);
  }

  /**
   * Adds an object; with `panel`, also registers its panel account (refused before the object
   * is added when the account or key is wrong or the account is taken).
   */
  async addObject(a: { clientId: number; code: string; address: string; calloutEnabled?: boolean; operator: string; panel?: { account: string; key: string | null; supervisionS?: number } }): Promise<ObjectView> {
    if (!a.panel) return this.registry.addObject(a);
    const { panel, ...object } = a;
    await this.panels.checkPanel(panel);
    const added = await this.registry.addObject(object);
    await this.panels.setPanel({ objectCode: added.code, ...panel, operator: a.operator });
    return added;
  }

  listObjects(clientId?: number): Promise<ObjectView[]> {
    return this.registry.listObjects(clientId);
  }

  getObject(code: string): Promise<ObjectView> {
    return this.registry.getObject(code);
  }

  listNumbers(clientId: number): Promise<NumberView[]> {
    return this.registry.listNumbers(clientId);
  }

  /** A trusted number: active at once when `signed`, else pending until its code comes back. */
  addNumber(a: { clientId: number; phone: string; objectCodes?: string[] | null; signed?: boolean; operator: string }):
    Promise<{ number: NumberView; challengeId: string | null }> {
    return this.registry.addNumber(a);
  }

  resendConfirmation(a: { phone: string; operator: string }): Promise<{ challengeId: string }> {
    return this.registry.resendConfirmation(a);
  }

  confirmNumber(a: { phone: string; code: string; operator: string }): Promise<ConfirmResult> {
    return this.registry.confirmNumber(a);
  }

  changeNumber(a: { phone: string; to: string; signed?: boolean; operator: string }): Promise<{ number: NumberView; challengeId: string | null }> {
    return this.registry.changeNumber(a);
  }

  blockNumber(a: { phone: string; reason: BlockReason; operator: string; channel?: Channel }): Promise<NumberView> {
    return this.registry.blockNumber(a);
  }

  unblockNumber(a: { phone: string; operator: string }): Promise<NumberView> {
    return this.registry.unblockNumber(a);
  }

  removeNumber(a: { phone: string; operator: string }): Promise<NumberView> {
    return this.registry.removeNumber(a);
  }

  operatorRequest(a: { action: ObjectAction; objectCode: string; operator: string }): Promise<RequestResult> {
    return this.registry.operatorRequest(a);
  }

  sendNotice(a: { phone: string; text: string; operator: string }): Promise<{ outboxId: number }> {
    return this.registry.sendNotice(a);
  }

  services(): Promise<Array<{ code: string; name: { ru: string; kk: string }; monthlyFee: number; smsFee: number }>> {
    return this.registry.services();
  }

  subscriptions(clientId: number): Promise<Array<{ service: string; state: string; startedAt: string }>> {
    return this.registry.subscriptions(clientId);
  }

  setTariff(a: { service: string; monthlyFee?: number; smsFee?: number; operator: string }): Promise<void> {
    return this.registry.setTariff(a);
  }

  // ---------------------------------------------------------------- billing

  /** The billing period (month, 'YYYY-MM') of an instant, in the company's time zone. */
  periodOf(at: Date): string {
    return this.billing.periodOf(at);
  }

  static nextPeriod(period: string): string {
    return nextPeriod(period);
  }

  runBilling(at: Date): Promise<{ period: string; charged: number; suspended: number; already: number }> {
    return this.billing.runBilling(at);
  }

  runReminders(at: Date, days: number): Promise<number> {
    return this.billing.runReminders(at, days);
  }

  pay(a: { clientId: number; amount: number; operator: string; ref?: string }): Promise<{ client: ClientView; duplicate: boolean }> {
    return this.billing.pay(a);
  }

  // ---------------------------------------------------------------- alarms and call-outs

  // ---------------------------------------------------------------- alarm panels (SIA DC-09)

  /** Registers or changes an object's panel account; `key` undefined keeps the account's key, null clears it. */
  setPanel(a: { objectCode: string; account: string; key?: string | null; supervisionS?: number; operator: string }): Promise<PanelView> {
    return this.panels.setPanel(a);
  }

  removePanel(a: { objectCode: string; operator: string }): Promise<void> {
    return this.panels.removePanel(a);
  }

  getPanel(objectCode: string): Promise<PanelView | null> {
    return this.panels.getPanel(objectCode);
  }

  listPanels(): Promise<PanelView[]> {
    return this.panels.listPanels();
  }

  panelKeys(): Promise<PanelKey[]> {
    return this.panels.panelKeys();
  }

  panelKey(account: string): Promise<PanelKey | null> {
    return this.panels.panelKey(account);
  }

  recordPanelMessage(m: PanelMessage): Promise<PanelMessageResult> {
    return this.panels.recordPanelMessage(m);
  }

  panelsSeen(list: Array<{ account: string; atMs: number }>): Promise<string[]> {
    return this.panels.panelsSeen(list);
  }

  checkPanelSupervision(): Promise<number> {
    return this.panels.checkSupervision();
  }

  unknownPanel(a: { account: string | null; remote: string; summary: string }): Promise<void> {
    return this.panels.unknownPanel(a);
  }

  recordMonitoringEvent(e: { sourceId: string; objectCode: string; type: string; kind: string | null; zone: number | null; eventAt: string | null }):
    Promise<{ row: MonitoringEventRow; duplicate: boolean; callout: CalloutPlan | null }> {
    return this.alarms.recordMonitoringEvent(e);
  }

  /** A burst of monitoring events in one durable transaction; refused events are answered with their error. */
  recordMonitoringEvents(list: MonitoringEventIn[]): Promise<Array<RecordedEvent | { error: AppError }>> {
    return this.alarms.recordMonitoringEvents(list);
  }

  takeCallouts(running: number[] = []): Promise<CalloutPlan[]> {
    return this.alarms.takeCallouts(running);
  }

  renewCallouts(eventIds: number[]): Promise<number[]> {
    return this.alarms.renewCallouts(eventIds);
  }

  finishCallouts(eventId: number): Promise<boolean> {
    return this.alarms.finishCallouts(eventId);
  }

  // ---------------------------------------------------------------- limits

  /**
   * One hit of sliding-window limits shared by every instance on the database (see
   * `StoreTx.rateHit`): true, and the hit counted under every key, when each limit has room;
   * false, and nothing counted, when one is full. `at` is the caller's clock.
   */
  rateHit(limits: RateLimit[], at: Date): Promise<boolean> {
    return this.ctx.run((tx) => tx.store.rateHit(limits, at.toISOString()));
  }

  raiseAlert(a: AlertInput): Promise<number> {
    return this.alarms.raiseAlert(a);
  }

  listAlerts(openOnly = true, limit = 100): Promise<AlertRow[]> {
    return this.alarms.listAlerts(openOnly, limit);
  }

  ackAlert(a: { id: number; operator: string }): Promise<void> {
    return this.alarms.ackAlert(a);
  }

  noteCallout(a: { eventId: number; objectCode: string; clientId: number; phone: string; round: number; result: string; startedAt: string }): Promise<void> {
    return this.alarms.noteCallout(a);
  }

  // ---------------------------------------------------------------- journal and outbox

  searchJournal(f: Partial<JournalFilter>): Promise<JournalRecord[]> {
    return this.records.searchJournal(f);
  }

  verifyJournal(): Promise<VerifyResult> {
    return this.records.verifyJournal();
  }

  noteInboundFlood(a: { channel: 'sms'; count: number; senders: number; since: string }): Promise<void> {
    return this.records.noteInboundFlood(a);
  }

  queueSms(m: SmsToQueue): Promise<number> {
    return this.records.queueSms(m);
  }

  listOutbox(a: { limit?: number; state?: string; before?: number; reveal?: boolean }): Promise<Array<OutboxRow & { text: string | null }>> {
    return this.records.listOutbox(a);
  }

  outboxText(r: Pick<OutboxRow, 'body' | 'bodyEnc' | 'secret' | 'phone'>, reveal: boolean): string | null {
    return this.records.outboxText(r, reveal);
  }

  // ---------------------------------------------------------------- confirmation rules and held documents

  /** The company's confirmation rules, a client's own, and the two merged. */
  confirmationRules(clientId?: number): Promise<{ company: ConfirmationRules; client: ConfirmationRules | null; effective: ConfirmationRules }> {
    return this.confirmations.rules(clientId);
  }

  setCompanyRules(a: { rules: unknown; operator: string }): Promise<ConfirmationRules> {
    return this.confirmations.setCompanyRules(a);
  }

  setClientRules(a: { clientId: number; rules: unknown; operator: string }): Promise<ConfirmationRules | null> {
    return this.confirmations.setClientRules(a);
  }

  listHolds(a: { open?: boolean; clientId?: number; limit?: number }): Promise<HoldView[]> {
    return this.confirmations.listHolds(a);
  }

  getHold(id: number): Promise<HoldView> {
    return this.confirmations.getHold(id);
  }

  holdDocument(a: { challengeId: string; operator: string }): Promise<HoldView> {
    return this.confirmations.holdDocument(a);
  }

  decideHold(id: number, d: HoldDecision): Promise<{ changed: boolean; hold: HoldView }> {
    return this.confirmations.decide(id, d);
  }

  takeHoldCalls(running: number[] = []): Promise<HoldCallPlan[]> {
    return this.confirmations.takeHoldCalls(running, this.ctx.calloutLeaseMs);
  }

  renewHoldCalls(ids: number[]): Promise<number[]> {
    return this.confirmations.renewHoldCalls(ids, this.ctx.calloutLeaseMs);
  }

  holdState(id: number): Promise<HoldState | null> {
    return this.confirmations.holdState(id);
  }

  noteHoldCall(a: { holdId: number; phone: string; result: string }): Promise<void> {
    return this.confirmations.noteHoldCall(a);
  }

  expireHolds(): Promise<number> {
    return this.confirmations.expireHolds();
  }

  // ---------------------------------------------------------------- schedules

  /** The object's opening/closing schedule, or null when it has none. */
  getSchedule(objectCode: string): Promise<ObjectSchedule | null> {
    return this.schedules.getSchedule(objectCode);
  }

  /** An operator sets the object's weekly rules (its exceptions stay); journalled. */
  setSchedule(a: { objectCode: string; days: DayRule[]; notifyOffSchedule?: boolean; operator: string }): Promise<ObjectSchedule> {
    return this.schedules.setSchedule(a);
  }

  /** An operator removes the object's schedule and its exceptions; journalled. */
  clearSchedule(a: { objectCode: string; operator: string }): Promise<void> {
    return this.schedules.clearSchedule(a);
  }

  /** An operator sets the exception of one date: closed, or other times; journalled. */
  addScheduleException(a: { objectCode: string; date: string; closed?: boolean; armBy?: string | null; openFrom?: string | null; note?: string | null; operator: string }): Promise<ObjectSchedule> {
    return this.schedules.addException(a);
  }

  /** An operator removes the exception of one date; journalled. */
  removeScheduleException(a: { objectCode: string; date: string; operator: string }): Promise<ObjectSchedule> {
    return this.schedules.removeException(a);
  }

  /** The every-minute check: not-armed SMS and alerts, once a day each (see `Schedules.checkSchedules`). */
  checkSchedules(at: Date): Promise<ScheduleCheck> {
    return this.schedules.checkSchedules(at);
  }

  /** ГРАФИК from a trusted number (app, chat): the schedule of an object it may see; journalled. */
  schedule(a: ScheduleInquiry): Promise<ScheduleInquiryResult> {
    return this.schedules.inquiry(a);
  }

  // ---------------------------------------------------------------- duress code

  /** Whether the client has a duress code and since when (never the code). */
  duressStatus(clientId: number): Promise<DuressStatus> {
    return this.duress.status(clientId);
  }

  /** An operator sets a client's duress code from the client's signed application (`signed` must be true). */
  setDuressCode(a: { clientId: number; code: unknown; signed: boolean; operator: string }): Promise<DuressStatus> {
    return this.duress.set(a);
  }

  clearDuressCode(a: { clientId: number; operator: string }): Promise<DuressStatus> {
    return this.duress.clear(a);
  }

  /** The client asks in the app to set or clear the duress code: a one-time code by SMS. */
  requestDuressChange(a: { channel: 'app' | 'chat'; phone: string; change: 'set' | 'clear'; ref?: string }): Promise<DuressRequestResult> {
    return this.duress.request(a);
  }

  /** The one-time code comes back, with the new duress code for a set. */
  confirmDuressChange(a: { channel: 'app' | 'chat'; phone: string; challengeId: string; code: string; duress?: unknown; ref?: string }): Promise<DuressConfirmResult> {
    return this.duress.confirm(a);
  }

  // ---------------------------------------------------------------- call history

  /** A call's row as it starts; a call-out's when it is placed. */
  callStarted(c: CallStart): Promise<void> {
    return this.calls.callStarted(c);
  }

  /** Appends what was done on a call and sets what became known (client, object, answer time). */
  callProgress(p: CallProgress): Promise<boolean> {
    return this.calls.callProgress(p);
  }

  /** Ends a call with its outcome (the first end counts). */
  callEnded(e: CallEnd): Promise<boolean> {
    return this.calls.callEnded(e);
  }

  /** The call history for operators, newest first, with filters; bad filters throw BAD_INPUT. */
  listCalls(q: CallQuery): Promise<CallRow[]> {
    return this.calls.listCalls(q);
  }
}
