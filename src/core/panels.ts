import { createHash } from 'node:crypto';
import { open, seal } from '../domain/crypto.ts';
import { AppError } from '../domain/errors.ts';
import { ALARM_KINDS, MONITORING_TYPES } from '../domain/types.ts';
import { raiseAlertIn } from './alarms.ts';
import type { Alarms, RecordedEvent } from './alarms.ts';
import { checkOperator, mustObject } from './context.ts';
import type { CoreContext, Tx } from './context.ts';
import { DuplicateKeyError } from './ports.ts';
import type { PanelRow } from './ports.ts';

/**
 * Alarm panels reporting straight to the receiver (SIA DC-09): their accounts on objects,
 * the AES key of each (sealed under the service secret), what their messages do, and
 * supervision ("no link" when a panel has not been heard from for its supervision period).
 */

/** A DC-09 account: 3 to 16 hexadecimal digits, kept in upper case. */
export const PANEL_ACCOUNT_RE = /^[0-9A-F]{3,16}$/;
/** Supervision periods the product accepts: a minute to a week. */
export const SUPERVISION_MIN_S = 60;
export const SUPERVISION_MAX_S = 7 * 86_400;
/**
 * A panel is marked lost this long after it was due, not at once: a receiver keeps the times of
 * link tests a few seconds before writing them, so a test that came in just in time is not taken
 * for a silence.
 */
export const SUPERVISION_GRACE_MS = 15_000;
/** A frame equal to the account's last report kept is its repeat when it comes within this time. */
export const REPEAT_WINDOW_MS = 10 * 60_000;

/** An account as operators see it: never the key, only whether there is one. */
export interface PanelView {
  account: string;
  objectCode: string;
  encrypted: boolean;
  supervisionS: number;
  link: 'up' | 'lost';
  lastSeenAt: string | null;
  lostAt: string | null;
  /** When supervision will take the link for lost if nothing arrives. */
  dueAt: string;
  updatedAt: string;
  updatedBy: string | null;
}

/** What the receiver needs in memory: the account's object and key (hex), decrypted. */
export interface PanelKey {
  account: string;
  objectCode: string;
  key: string | null;
  /** The stored key cannot be opened (the service secret changed since it was set): the account's frames are refused until it is set again. */
  unreadable: boolean;
}

/** One event of a panel's message, already mapped to the product's events by the receiver. */
export interface PanelEventIn {
  type: string;
  kind: string | null;
  zone: string | null;
  partition: string | null;
  user: string | null;
  /** The panel's own code ("E130", "R401", "BA"). */
  code: string;
}

/** A message the receiver accepted from a panel (an event report, not a link test). */
export interface PanelMessage {
  account: string;
  /**
   * The frame's identity without its time (receiver, line, sequence, token, data): a panel that
   * did not get its ACK sends the same frame again, often with a new timestamp, to this receiver
   * or another.
   */
  frameId: string;
  encrypted: boolean;
  events: PanelEventIn[];
}

export interface PanelMessageResult {
  /** False: no object has this account (nothing recorded). */
  known: boolean;
  /** The panel's last report sent again (nothing recorded). */
  repeat: boolean;
  objectCode: string | null;
  events: RecordedEvent[];
}

const KEY_RE = /^(?:[0-9a-f]{32}|[0-9a-f]{48}|[0-9a-f]{64})$/;
const aad = (account: string): string => `dc09-key:${account}`;

/** The account's key in clear; undefined when it cannot be opened with this service secret. */
function openKey(keys: Buffer, p: PanelRow): string | null | undefined {
  if (!p.keySealed) return null;
  try {
    return open(keys, Buffer.from(p.keySealed, 'hex'), aad(p.account));
  } catch {
    return undefined;
  }
}

function keyOf(keys: Buffer, p: PanelRow): PanelKey {
  const key = openKey(keys, p);
  return { account: p.account, objectCode: p.objectCode, key: key ?? null, unreadable: key === undefined };
}

export function normaliseAccount(raw: string): string {
  const a = (raw ?? '').trim().toUpperCase();
  if (!PANEL_ACCOUNT_RE.test(a)) throw new AppError('BAD_INPUT', 'a panel account is 3 to 16 hexadecimal digits');
  return a;
}

function normaliseKey(raw: string): string {
  const k = (raw ?? '').trim().toLowerCase();
  if (!KEY_RE.test(k)) throw new AppError('BAD_INPUT', 'a DC-09 key is 32, 48 or 64 hexadecimal digits (AES-128, -192 or -256)');
  return k;
}

function checkSupervision(s: number): number {
  if (!Number.isInteger(s) || s < SUPERVISION_MIN_S || s > SUPERVISION_MAX_S) {
    throw new AppError('BAD_INPUT', `the supervision period is ${SUPERVISION_MIN_S} to ${SUPERVISION_MAX_S} seconds`);
  }
  return s;
}

function viewOf(p: PanelRow): PanelView {
  return {
    account: p.account, objectCode: p.objectCode, encrypted: p.keySealed !== null, supervisionS: p.supervisionS, link: p.link,
    lastSeenAt: p.lastSeenAt, lostAt: p.lostAt, dueAt: new Date(p.dueMs).toISOString(), updatedAt: p.updatedAt, updatedBy: p.updatedBy,
  };
}

/** The zone or partition number as the product keeps it (0–9999), or null when it is not one. */
function zoneNumber(z: string | null): number | null {
  if (z === null || !/^\d{1,4}$/.test(z)) return null;
  return Number(z);
}

/** Events' ids: the frame's identity hashed, so that every instance gives a repeat the same id. */
export function frameId(parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

export class Panels {
  constructor(private readonly ctx: CoreContext, private readonly alarms: Alarms) {}

  /**
   * Registers (or changes) the object's panel account. `key`: a hex AES key; null: the panel
   * sends in clear; undefined: keep the key the account has. `supervisionS` undefined keeps the
   * period (a new account: the default). Supervision starts now.
   */
  async setPanel(a: { objectCode: string; account: string; key?: string | null; supervisionS?: number; operator: string }): Promise<PanelView> {
    const account = normaliseAccount(a.account);
    const key = a.key === undefined || a.key === null ? a.key : normaliseKey(a.key);
    if (a.supervisionS !== undefined) checkSupervision(a.supervisionS);
    checkOperator(a.operator);
    return this.ctx.run(async (tx) => {
      const object = await mustObject(tx.store, a.objectCode);
      const taken = await tx.store.getPanel(account);
      if (taken && taken.objectId !== object.id) throw new AppError('CONFLICT', `panel account ${account} belongs to object ${taken.objectCode}`);
      const old = await tx.store.panelOfObject(object.id);
      // not given: the period the object's panel has, or the default for a new one
      const supervisionS = checkSupervision(a.supervisionS ?? old?.supervisionS ?? this.ctx.panelSupervisionS);
      let plain: string | null | undefined = key;
      if (plain === undefined) {
        plain = old ? openKey(this.ctx.keys.panel, old) : null;
        if (plain === undefined) throw new AppError('CONFLICT', `the stored key of panel account ${old!.account} cannot be read (the service secret changed since it was set): give the key again`);
      }
      const sealed = plain ? seal(this.ctx.keys.panel, this.ctx.random.bytes(12), plain, aad(account)).toString('hex') : null;
      const now = tx.now();
      try {
        await tx.store.putPanel({ account, objectId: object.id, keySealed: sealed, supervisionS, dueMs: now.getTime() + supervisionS * 1000, at: now.toISOString(), by: a.operator });
      } catch (e) {
        if (e instanceof DuplicateKeyError) throw new AppError('CONFLICT', `panel account ${account} is already in use`);
        throw e;
      }
      await tx.journal({
        channel: 'operator', clientId: object.clientId, objectCode: object.code, action: 'panel-set', auth: 'operator', operator: a.operator, outcome: 'executed',
        detail: `account=${account} encrypted=${sealed ? 'yes' : 'no'} supervision=${supervisionS}s${old && old.account !== account ? ` replaces=${old.account}` : ''}`,
      });
      // a link taken for lost stays lost (the object keeps "no link") until the panel is heard
      return viewOf((await tx.store.getPanel(account))!);
    });
  }

  /** Refuses what `setPanel` would refuse for any object: a bad account, key or period, an account in use. */
  async checkPanel(a: { account: string; key: string | null; supervisionS?: number }): Promise<void> {
    const account = normaliseAccount(a.account);
    if (a.key !== null) normaliseKey(a.key);
    checkSupervision(a.supervisionS ?? this.ctx.panelSupervisionS);
    const taken = await this.ctx.read((store) => store.getPanel(account));
    if (taken) throw new AppError('CONFLICT', `panel account ${account} belongs to object ${taken.objectCode}`);
  }

  async removePanel(a: { objectCode: string; operator: string }): Promise<void> {
    checkOperator(a.operator);
    await this.ctx.run(async (tx) => {
      const object = await mustObject(tx.store, a.objectCode);
      const old = await tx.store.panelOfObject(object.id);
      if (!old || !(await tx.store.deletePanel(object.id))) throw new AppError('NOT_FOUND', `object ${object.code} has no panel account`);
      await tx.journal({ channel: 'operator', clientId: object.clientId, objectCode: object.code, action: 'panel-remove', auth: 'operator', operator: a.operator, outcome: 'executed', detail: `account=${old.account}` });
    });
  }

  async getPanel(objectCode: string): Promise<PanelView | null> {
    return this.ctx.read(async (store) => {
      const p = await store.panelOfObject((await mustObject(store, objectCode)).id);
      return p ? viewOf(p) : null;
    });
  }

  listPanels(): Promise<PanelView[]> {
    return this.ctx.read(async (store) => (await store.listPanels()).map(viewOf));
  }

  /** Every account with its key in clear, for the receiver's memory only. */
  panelKeys(): Promise<PanelKey[]> {
    return this.ctx.read(async (store) => (await store.listPanels()).map((p) => keyOf(this.ctx.keys.panel, p)));
  }

  /** One account with its key in clear (for the receiver's memory), null when no object has it. */
  panelKey(account: string): Promise<PanelKey | null> {
    if (!PANEL_ACCOUNT_RE.test(account)) return Promise.resolve(null);
    return this.ctx.read(async (store) => {
      const p = await store.getPanel(account);
      return p ? keyOf(this.ctx.keys.panel, p) : null;
    });
  }

  /**
   * A panel's event report: the link is alive (and restored if it was lost), then each event is
   * recorded as a monitoring event of channel `panel`. The same report again (the account's last
   * one, within `REPEAT_WINDOW_MS`, received by this instance or another) records nothing.
   */
  async recordPanelMessage(m: PanelMessage): Promise<PanelMessageResult> {
    const account = normaliseAccount(m.account);
    return this.ctx.run(async (tx) => {
      const panel = await this.seenIn(tx, account);
      if (!panel) return { known: false, repeat: false, objectCode: null, events: [] };
      // a panel waits for the ACK of one report before it sends the next: a frame equal to the
      // last one kept (whatever its timestamp) is that report again
      const nowMs = tx.now().getTime();
      if (panel.lastFrame === m.frameId && panel.lastFrameMs !== null && nowMs - panel.lastFrameMs < REPEAT_WINDOW_MS) {
        return { known: true, repeat: true, objectCode: panel.objectCode, events: [] };
      }
      await tx.store.setPanelFrame(account, m.frameId, nowMs);
      const events: RecordedEvent[] = [];
      for (const [i, e] of m.events.entries()) {
        const type = (MONITORING_TYPES as readonly string[]).includes(e.type) ? e.type : 'trouble';
        const kind = type === 'alarm' ? ((ALARM_KINDS as readonly string[]).includes(e.kind ?? '') ? e.kind : 'burglary') : e.kind;
        const detail = [`code=${e.code.slice(0, 16)}`, e.zone !== null && zoneNumber(e.zone) === null ? `zone-raw=${e.zone.slice(0, 8)}` : '',
          e.partition ? `partition=${e.partition.slice(0, 8)}` : '', e.user ? `user=${e.user.slice(0, 8)}` : '', `account=${account}`].filter(Boolean).join(' ');
        events.push(await this.alarms.recordEventIn(tx, {
          sourceId: `dc09:${account}:${m.frameId}:${nowMs}:${i}`, objectCode: panel.objectCode, type, kind, zone: zoneNumber(e.zone),
          // a DC-09 timestamp is when the frame was sent (checked against the window), to the second:
          // the order of events is the order they were received
          eventAt: null,
          channel: 'panel', auth: m.encrypted ? 'dc09-aes' : 'dc09-account', detail,
        }));
      }
      return { known: true, repeat: false, objectCode: panel.objectCode, events };
    });
  }

  /**
   * Link tests (and any message) heard from these accounts at these times: their supervision
   * moves on, and a lost link comes back. Unknown accounts are left out of the answer.
   */
  async panelsSeen(list: Array<{ account: string; atMs: number }>): Promise<string[]> {
    if (list.length === 0) return [];
    return this.ctx.run(async (tx) => {
      const known: string[] = [];
      for (const s of list) {
        if (await this.seenIn(tx, s.account, s.atMs)) known.push(s.account);
      }
      return known;
    });
  }

  /** The panel was heard from; restores its link when it was lost. Undefined: unknown account. */
  private async seenIn(tx: Tx, account: string, atMs = tx.now().getTime()): Promise<PanelRow | undefined> {
    const at = new Date(atMs).toISOString();
    const p = await tx.store.panelSeen(account, at, atMs);
    if (!p) return undefined;
    if (p.link === 'lost' && Date.parse(p.lostAt ?? '') <= atMs && (await tx.store.markPanelUp(account))) {
      await this.alarms.recordEventIn(tx, {
        sourceId: `dc09-up:${account}:${p.lostAt}`, objectCode: p.objectCode, type: 'link-restored', kind: null, zone: null, eventAt: at,
        channel: 'panel', auth: 'none', detail: `account=${account} heard again`,
      });
    }
    return p;
  }

  /**
   * Supervision: every panel not heard from for its period (plus a short grace) goes to "no
   * link", with the SMS and the operators' alert of a lost link. Reads first; writes only for
   * panels that are due. Every instance may run it: a panel is marked lost once.
   */
  async checkSupervision(limit = 500): Promise<number> {
    const nowMs = this.ctx.clock.now().getTime() - SUPERVISION_GRACE_MS;
    const due = await this.ctx.read((store) => store.duePanels(nowMs, limit));
    if (due.length === 0) return 0;
    return this.ctx.run(async (tx) => {
      let lost = 0;
      for (const p of due) {
        if (!(await tx.store.markPanelLost(p.account, nowMs, tx.nowIso()))) continue;
        lost++;
        await this.alarms.recordEventIn(tx, {
          sourceId: `dc09-lost:${p.account}:${p.dueMs}`, objectCode: p.objectCode, type: 'link-lost', kind: null, zone: null, eventAt: null,
          channel: 'panel', auth: 'none',
          detail: `account=${p.account} silent since ${p.lastSeenAt ?? 'registration'} supervision=${p.supervisionS}s`,
        });
      }
      return lost;
    });
  }

  /** A message from an account no object has: the operators are told (the caller limits how often). */
  async unknownPanel(a: { account: string | null; remote: string; summary: string }): Promise<void> {
    await this.ctx.run((tx) => raiseAlertIn(tx, {
      kind: 'panel-unknown', clientId: null, objectCode: null, phone: null,
      detail: `account ${a.account ?? '(none)'} from ${a.remote.slice(0, 60)}: ${a.summary.slice(0, 200)}`,
    }).then(() => undefined));
  }
}
