/** Shared vocabulary of the product. Pure types and constant lists, no IO. */

export const LANGS = ['ru', 'kk'] as const;
export type Lang = (typeof LANGS)[number];

export const CHANNELS = ['phone', 'sms', 'chat', 'app', 'operator', 'monitoring', 'panel', 'system'] as const;
export type Channel = (typeof CHANNELS)[number];

export const OBJECT_STATUSES = ['armed', 'disarmed', 'alarm', 'no-link'] as const;
export type ObjectStatus = (typeof OBJECT_STATUSES)[number];

export const NUMBER_STATES = ['pending', 'active', 'blocked', 'removed'] as const;
export type NumberState = (typeof NUMBER_STATES)[number];

export const BLOCK_REASONS = ['lost', 'stolen', 'other'] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

/** Requests a client (or an operator) makes about an object. */
export const OBJECT_ACTIONS = ['status', 'arm', 'disarm'] as const;
export type ObjectAction = (typeof OBJECT_ACTIONS)[number];

/** Why a number or a request is refused. Stable: channels map them to prompts, texts and HTTP. */
export type RefusalReason =
  | 'unknown'
  | 'pending'
  | 'blocked'
  | 'suspended'
  | 'no-object'
  | 'object-not-allowed'
  | 'object-ambiguous'
  | 'rate-limited';

/** How the author of a document was authenticated. */
export type AuthMethod = 'none' | 'caller-id' | 'sender' | 'session' | 'otp' | 'operator' | 'api-key' | 'callback';

/** SMS outbox priority: lower is sent first. */
export const PRIORITY = { otp: 0, alarm: 1, info: 2 } as const;
export type SmsPriority = keyof typeof PRIORITY;

export interface ClientView {
  id: number;
  name: string;
  lang: Lang;
  langChosen: boolean;
  balance: number;
  suspendedAt: string | null;
  createdAt: string;
}

export interface ObjectView {
  id: number;
  clientId: number;
  code: string;
  address: string;
  status: ObjectStatus;
  statusSince: string;
  calloutEnabled: boolean;
}

export interface NumberView {
  id: number;
  clientId: number;
  phone: string;
  state: NumberState;
  allObjects: boolean;
  objectCodes: string[];
  blockReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Events the monitoring centre reports, and the kinds of alarm. */
export const MONITORING_TYPES = ['alarm', 'restore', 'arm', 'disarm', 'trouble', 'link-lost', 'link-restored', 'test'] as const;
export const ALARM_KINDS = ['burglary', 'fire', 'panic', 'flood', 'tamper'] as const;
/** Alarms a client's acknowledgement does not silence: every contact is called, and an operator alerted. */
export const UNSILENCEABLE_KINDS: ReadonlySet<string> = new Set(['fire', 'panic']);
