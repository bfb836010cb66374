import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * The service's configuration: one schema, parsed once at start from environment variables.
 * Nothing else in the program reads process.env. Every key is documented in README.md.
 *
 * The schema is a table of small parsers written here rather than a validation library: the
 * command line parses it on every start, and start-up time is part of what operators feel.
 */

/** A parser of one variable: its raw text (undefined when unset or empty) to a value, or an error message. */
type Field<T> = (raw: string | undefined) => { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
const bad = (message: string): { ok: false; message: string } => ({ ok: false, message });

function num(o: { min: number; max: number; def: number; int?: boolean }): Field<number> {
  return (raw) => {
    if (raw === undefined) return ok(o.def);
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(n)) return bad('must be a number');
    if (o.int && !Number.isInteger(n)) return bad('must be a whole number');
    if (n < o.min || n > o.max) return bad(`must be between ${o.min} and ${o.max}`);
    return ok(n);
  };
}
const int = (min: number, max: number, def: number): Field<number> => num({ min, max, def, int: true });
const port = (def: number): Field<number> => int(0, 65535, def);

function text(o: { def?: string; trim?: boolean; min?: number; max?: number; pattern?: RegExp; message?: string } = {}): Field<string> {
  return (raw) => {
    if (raw === undefined) return o.def === undefined ? bad('required') : ok(o.def);
    const v = o.trim ? raw.trim() : raw;
    if (o.min !== undefined && v.length < o.min) return bad(o.message ?? `must be at least ${o.min} characters`);
    if (o.max !== undefined && v.length > o.max) return bad(o.message ?? `must be at most ${o.max} characters`);
    if (o.pattern && !o.pattern.test(v)) return bad(o.message ?? `must match ${o.pattern}`);
    return ok(v);
  };
}

function optional<T>(f: Field<T>): Field<T | undefined> {
  return (raw) => (raw === undefined ? ok(undefined) : f(raw));
}

function oneOf<const V extends string>(values: readonly V[], def: V): Field<V> {
  return (raw) => {
    if (raw === undefined) return ok(def);
    return (values as readonly string[]).includes(raw) ? ok(raw as V) : bad(`must be one of ${values.join(', ')}`);
  };
}

function flag(def: boolean): Field<boolean> {
  return (raw) => {
    if (raw === undefined) return ok(def);
    if (raw === '1' || raw === 'true') return ok(true);
    if (raw === '0' || raw === 'false') return ok(false);
    return bad('must be 0, 1, true or false');
  };
}

function httpUrl(def: string): Field<string> {
  return (raw) => {
    if (raw === undefined) return ok(def);
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('must be an http:// or https:// URL');
      return ok(raw);
    } catch {
      return bad('must be a URL');
    }
  };
}

function timeZone(def: string): Field<string> {
  return (raw) => {
    const tz = raw ?? def;
    // the default is known to be valid; checking a zone loads the time zone data, which costs
    // a command that never formats a time most of its start-up
    if (tz === def) return ok(tz);
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return ok(tz);
    } catch {
      return bad('not a known IANA time zone');
    }
  };
}

const optionalText = optional(text({ trim: true, min: 1 }));

/** A `ZHEDEL_DB` naming a PostgreSQL database rather than a SQLite file. */
const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

/**
 * ZHEDEL_DB: a SQLite file, or a postgres:// (postgresql://) URL. A URL is checked for its
 * shape only; the message never repeats it (it may carry a password).
 */
const database: Field<string> = (raw) => {
  const v = (raw ?? './data/zhedel.db').trim();
  if (v === '') return bad('required');
  if (!POSTGRES_URL.test(v)) return ok(v);
  try {
    const u = new URL(v);
    if (!u.hostname && !u.searchParams.get('host')) return bad('a PostgreSQL URL names its server: postgres://user:password@host:5432/database');
    return ok(v);
  } catch {
    return bad('not a valid PostgreSQL URL (postgres://user:password@host:5432/database?sslmode=verify-full; a password with special characters is percent-encoded)');
  }
};

/** The database as logs and messages may show it: a URL without its password and options. */
export function databaseLabel(db: string): string {
  if (!POSTGRES_URL.test(db)) return db;
  try {
    const u = new URL(db);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unreadable URL)';
  }
}

/** A proxy address or CIDR for ZHEDEL_HTTP_TRUST_PROXY. */
function validProxy(entry: string): boolean {
  const [addr, bits, extra] = entry.split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const proxyList: Field<string[]> = (raw) => {
  const list = (raw ?? '').split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  return list.every(validProxy) ? ok(list) : bad('a comma-separated list of IP addresses or CIDRs (e.g. 127.0.0.1,10.0.0.0/8)');
};
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** What an instance's name may hold: it is written into the database as the holder of leases. */
const INSTANCE_NAME = /^[\w.:@-]{1,100}$/;

/**
 * The default name of this instance: the host's name and the Stasis application, which stay
 * the same across restarts of one instance and differ between instances that each hold their
 * own ARI link. Characters a name may not hold become '-'.
 */
function defaultInstance(app: string): string {
  const host = hostname().replace(/[^\w.-]/g, '-').slice(0, 60) || 'host';
  return `${host}:${app}`;
}

const schema = {
  NODE_ENV: oneOf(['development', 'production', 'test'], 'development'),
  ZHEDEL_DB: database,
  ZHEDEL_DB_POOL: int(1, 1_000, 10),
  ZHEDEL_DB_STATEMENT_TIMEOUT_MS: int(100, 3_600_000, 5_000),
  ZHEDEL_HTTP_HOST: text({ trim: true, min: 1, def: '127.0.0.1' }),
  ZHEDEL_HTTP_PORT: port(8080),
  ZHEDEL_HTTP_RATE_LIMIT: int(0, 1_000_000, 600),
  ZHEDEL_HTTP_TRUST_PROXY: proxyList,
  ZHEDEL_METRICS_TOKEN: optionalText,
  ZHEDEL_SECRET: optional(text({ min: 32, message: 'must be at least 32 characters' })),
  ZHEDEL_TZ: timeZone('Asia/Almaty'),
  ZHEDEL_LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  ZHEDEL_LEASE_S: int(2, 3_600, 30),
  ZHEDEL_INSTANCE: optional(text({ trim: true, pattern: INSTANCE_NAME, message: '1 to 100 letters, digits and . _ : @ - only' })),

  ZHEDEL_ARI_URL: httpUrl('http://127.0.0.1:8088'),
  ZHEDEL_ARI_USER: text({ trim: true, min: 1, def: 'zhedel' }),
  ZHEDEL_ARI_PASSWORD: text({ def: '' }),
  ZHEDEL_ARI_APP: text({ pattern: /^[\w-]{1,64}$/, message: 'letters, digits, _ and - only', def: 'zhedel' }),
  ZHEDEL_CALLOUT_ENDPOINT: text({ pattern: /\{number\}/, message: 'must contain {number}', def: 'PJSIP/{number}@trunk' }),

  ZHEDEL_AMI_HOST: text({ trim: true, min: 1, def: '127.0.0.1' }),
  ZHEDEL_AMI_PORT: port(5038),
  ZHEDEL_AMI_USER: text({ trim: true, min: 1, def: 'zhedel' }),
  ZHEDEL_AMI_SECRET: text({ def: '' }),

  ZHEDEL_SMPP_URL: text({ pattern: /^s?smpp:\/\/[^\s/:]+(:\d{1,5})?\/?$/, message: 'must look like smpp://host:port or ssmpp://host:port', def: 'smpp://127.0.0.1:2775' }),
  ZHEDEL_SMPP_SYSTEM_ID: text({ trim: true, min: 1, max: 15, message: 'SMPP system_id is 1 to 15 characters', def: 'zhedel' }),
  ZHEDEL_SMPP_PASSWORD: text({ max: 8, message: 'SMPP password is at most 8 characters', def: '' }),
  ZHEDEL_SMPP_SYSTEM_TYPE: text({ max: 12, def: '' }),
  ZHEDEL_SMPP_SENDER: text({ trim: true, min: 1, max: 16, def: 'ZHEDEL' }),
  ZHEDEL_SMPP_TPS: num({ min: 0, max: 10_000, def: 50 }),
  ZHEDEL_SMPP_WINDOW: int(1, 1000, 10),
  ZHEDEL_SMPP_TLS_INSECURE: flag(false),
  ZHEDEL_MONITORING_KEY: optionalText,
  ZHEDEL_OPERATOR_TOKEN_DAYS: int(1, 3_650, 90),
  ZHEDEL_ALARM_GROUP_S: int(0, 86_400, 300),
  ZHEDEL_ALARM_ACK_TIMEOUT_S: int(10, 86_400, 300),
  ZHEDEL_CALLOUT_ROUNDS: int(1, 10, 3),
  ZHEDEL_CALLOUT_PAUSE_S: int(0, 3_600, 60),
  ZHEDEL_CALLOUT_RING_S: int(5, 120, 30),
  ZHEDEL_BILLING_REMIND_DAYS: int(0, 28, 3),
  ZHEDEL_BACKUP_DIR: optionalText,
  ZHEDEL_BACKUP_KEEP_DAYS: int(1, 3_650, 14),
  ZHEDEL_SCHEDULE_GRACE_MIN: int(0, 720, 30),
  ZHEDEL_DC09_PORT: optional(int(0, 65535, 0)),
  ZHEDEL_DC09_HOST: text({ trim: true, min: 1, def: '0.0.0.0' }),
  ZHEDEL_DC09_WINDOW_S: int(1, 3_600, 20),
  ZHEDEL_DC09_SUPERVISION_S: int(60, 604_800, 600),
  ZHEDEL_DC09_MAX_CONNECTIONS: int(1, 1_000_000, 5_000),
  ZHEDEL_DC09_MAX_PER_ADDRESS: int(1, 1_000_000, 50),
};

type Schema = typeof schema;
export type Env = { [K in keyof Schema]: Schema[K] extends Field<infer T> ? T : never };

/** Every variable of the schema, parsed; the messages name each bad one. */
function parseEnv(cleaned: Record<string, string>): { ok: true; env: Env } | { ok: false; lines: string[] } {
  const out: Record<string, unknown> = {};
  const lines: string[] = [];
  for (const [key, field] of Object.entries(schema) as Array<[string, Field<unknown>]>) {
    const r = field(cleaned[key]);
    if (r.ok) out[key] = r.value;
    else lines.push(`${key}: ${r.message}`);
  }
  return lines.length ? { ok: false, lines } : { ok: true, env: out as Env };
}

export interface Config {
  env: Env['NODE_ENV'];
  /** ZHEDEL_DB as given: a SQLite file (resolved to an absolute path) or a PostgreSQL URL (as is). */
  dbPath: string;
  db: {
    engine: 'sqlite' | 'postgres';
    /** PostgreSQL: connections in the pool. */
    poolSize: number;
    /** PostgreSQL: the server cancels a statement running longer. */
    statementTimeoutMs: number;
    /** What logs and messages show: the file, or the URL without password and options. */
    label: string;
  };
  /** Where the development secret, the pid file and (by default) backups live. */
  dataDir: string;
  http: { host: string; port: number; rateLimitPerMinute: number; trustProxy: string[] };
  /** Bearer token for /metrics, /docs and /ready's details; null: only local direct requests see them. */
  metricsToken: string | null;
  secret: string;
  /** Where the secret came from: the environment, or the generated development file. */
  secretSource: 'env' | 'file';
  timeZone: string;
  logLevel: Env['ZHEDEL_LOG_LEVEL'];
  /**
   * This instance's name, unique among the instances sharing the database and the same
   * across its restarts: it holds the leases on SMS being sent, call-outs and scheduled jobs.
   */
  instance: string;
  /**
   * How long work an instance took (SMS being sent, an alarm's call-outs, a scheduled run)
   * stays its own without a renewal: after this, another instance takes it over.
   */
  leaseMs: number;
  ari: { url: string; user: string; password: string; app: string; calloutEndpoint: string };
  ami: { host: string; port: number; user: string; secret: string };
  smpp: {
    url: string; systemId: string; password: string; systemType: string; sender: string; tps: number; window: number;
    tlsInsecure: boolean;
  };
  monitoringKey: string | null;
  /** Operators' tokens expire this many days after they are issued (add or rotate). */
  operatorTokenDays: number;
  alarms: { groupMs: number; ackTimeoutMs: number; rounds: number; roundPauseMs: number; ringSec: number };
  billing: { remindDays: number };
  backup: { dir: string; keepDays: number };
  /** Minutes after an object's arm-by time before the operators are alerted that it is still not armed. */
  schedules: { graceMin: number };
  /**
   * The SIA DC-09 receiver: listening only when `port` is set (0 picks a free port); the
   * allowed clock difference of a frame; the supervision period of accounts registered
   * without one; connection limits in all and per remote address.
   */
  dc09: { port: number | null; host: string; windowMs: number; supervisionS: number; maxConnections: number; maxPerAddress: number };
}

/**
 * Variables holding secrets. In production none may keep a placeholder value from
 * `.env.example`, and the keys among them must be long enough not to be guessed.
 */
const SECRET_VARIABLES = ['ZHEDEL_SECRET', 'ZHEDEL_MONITORING_KEY', 'ZHEDEL_METRICS_TOKEN', 'ZHEDEL_ARI_PASSWORD', 'ZHEDEL_AMI_SECRET', 'ZHEDEL_SMPP_PASSWORD'] as const;
/** Keys the service itself checks: at least this long in production. */
const LONG_KEYS = new Set<string>(['ZHEDEL_SECRET', 'ZHEDEL_MONITORING_KEY', 'ZHEDEL_METRICS_TOKEN']);
export const MIN_KEY_LENGTH = 32;

/** The sample values shipped in `.env.example` and the documentation all say "change me". */
export function isPlaceholder(value: string): boolean {
  return /change[\s_-]*me/i.test(value) || /^(secret|password|example|placeholder|x+|\*+)$/i.test(value.trim());
}

function productionProblems(e: Env): string[] {
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const v = e[name];
    if (typeof v !== 'string' || v === '') continue;
    if (isPlaceholder(v)) problems.push(`${name}: still the placeholder from .env.example; set a real value`);
    else if (LONG_KEYS.has(name) && v.length < MIN_KEY_LENGTH) problems.push(`${name}: must be at least ${MIN_KEY_LENGTH} characters in production`);
  }
  return problems;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env, opts: { createSecret?: boolean } = {}): Config {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if ((k.startsWith('ZHEDEL_') || k === 'NODE_ENV') && v !== undefined && v !== '') cleaned[k] = v;
  }
  const parsed = parseEnv(cleaned);
  if (!parsed.ok) throw new ConfigError(`invalid configuration:\n  ${parsed.lines.join('\n  ')}`);
  const e = parsed.env;
  if (e.NODE_ENV === 'production') {
    const problems = productionProblems(e);
    if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const postgres = POSTGRES_URL.test(e.ZHEDEL_DB);
  const dbPath = e.ZHEDEL_DB === ':memory:' || postgres ? e.ZHEDEL_DB : resolve(e.ZHEDEL_DB);
  const dataDir = dbPath === ':memory:' || postgres ? resolve('data') : dirname(dbPath);
  let secret = e.ZHEDEL_SECRET;
  let secretSource: Config['secretSource'] = 'env';
  if (!secret) {
    if (e.NODE_ENV === 'production') {
      throw new ConfigError('invalid configuration:\n  ZHEDEL_SECRET: required in production (at least 32 characters)');
    }
    if (postgres) {
      // instances on one database check each other's codes and open each other's sealed texts
      throw new ConfigError('invalid configuration:\n  ZHEDEL_SECRET: required with a PostgreSQL database (the same value for every instance and the command line)');
    }
    secret = developmentSecret(dataDir, opts.createSecret ?? true);
    secretSource = 'file';
  }
  return {
    env: e.NODE_ENV,
    dbPath,
    db: {
      engine: postgres ? 'postgres' : 'sqlite', poolSize: e.ZHEDEL_DB_POOL, statementTimeoutMs: e.ZHEDEL_DB_STATEMENT_TIMEOUT_MS,
      label: databaseLabel(dbPath),
    },
    dataDir,
    http: { host: e.ZHEDEL_HTTP_HOST, port: e.ZHEDEL_HTTP_PORT, rateLimitPerMinute: e.ZHEDEL_HTTP_RATE_LIMIT, trustProxy: e.ZHEDEL_HTTP_TRUST_PROXY },
    metricsToken: e.ZHEDEL_METRICS_TOKEN ?? null,
    secret,
    secretSource,
    timeZone: e.ZHEDEL_TZ,
    logLevel: e.ZHEDEL_LOG_LEVEL,
    instance: e.ZHEDEL_INSTANCE ?? defaultInstance(e.ZHEDEL_ARI_APP),
    leaseMs: e.ZHEDEL_LEASE_S * 1_000,
    ari: {
      url: e.ZHEDEL_ARI_URL, user: e.ZHEDEL_ARI_USER, password: e.ZHEDEL_ARI_PASSWORD, app: e.ZHEDEL_ARI_APP,
      calloutEndpoint: e.ZHEDEL_CALLOUT_ENDPOINT,
    },
    ami: { host: e.ZHEDEL_AMI_HOST, port: e.ZHEDEL_AMI_PORT, user: e.ZHEDEL_AMI_USER, secret: e.ZHEDEL_AMI_SECRET },
    smpp: {
      url: e.ZHEDEL_SMPP_URL, systemId: e.ZHEDEL_SMPP_SYSTEM_ID, password: e.ZHEDEL_SMPP_PASSWORD,
      systemType: e.ZHEDEL_SMPP_SYSTEM_TYPE, sender: e.ZHEDEL_SMPP_SENDER, tps: e.ZHEDEL_SMPP_TPS,
      window: e.ZHEDEL_SMPP_WINDOW, tlsInsecure: e.ZHEDEL_SMPP_TLS_INSECURE,
    },
    monitoringKey: e.ZHEDEL_MONITORING_KEY ?? null,
    operatorTokenDays: e.ZHEDEL_OPERATOR_TOKEN_DAYS,
    alarms: {
      groupMs: e.ZHEDEL_ALARM_GROUP_S * 1000, ackTimeoutMs: e.ZHEDEL_ALARM_ACK_TIMEOUT_S * 1000, rounds: e.ZHEDEL_CALLOUT_ROUNDS,
      roundPauseMs: e.ZHEDEL_CALLOUT_PAUSE_S * 1000, ringSec: e.ZHEDEL_CALLOUT_RING_S,
    },
    billing: { remindDays: e.ZHEDEL_BILLING_REMIND_DAYS },
    backup: { dir: e.ZHEDEL_BACKUP_DIR ? resolve(e.ZHEDEL_BACKUP_DIR) : join(dataDir, 'backups'), keepDays: e.ZHEDEL_BACKUP_KEEP_DAYS },
    schedules: { graceMin: e.ZHEDEL_SCHEDULE_GRACE_MIN },
    dc09: {
      port: e.ZHEDEL_DC09_PORT ?? null, host: e.ZHEDEL_DC09_HOST, windowMs: e.ZHEDEL_DC09_WINDOW_S * 1000, supervisionS: e.ZHEDEL_DC09_SUPERVISION_S,
      maxConnections: e.ZHEDEL_DC09_MAX_CONNECTIONS, maxPerAddress: e.ZHEDEL_DC09_MAX_PER_ADDRESS,
    },
  };
}

/**
 * Development only: a random secret generated on first run and kept beside the database
 * with mode 0600, so codes and tokens stay valid across restarts.
 */
function developmentSecret(dataDir: string, create: boolean): string {
  const file = join(dataDir, 'secret');
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
    throw new ConfigError(`invalid configuration:\n  ZHEDEL_SECRET: the development secret file is damaged (${file}); remove it or set ZHEDEL_SECRET`);
  }
  if (!create) throw new ConfigError('invalid configuration:\n  ZHEDEL_SECRET: not set and no development secret exists yet');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const s = randomBytes(32).toString('base64url');
  writeFileSync(file, s + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return s;
}
