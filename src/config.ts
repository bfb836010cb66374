import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The service's configuration: one schema, parsed once at start from environment variables.
 * Nothing else in the program reads process.env. Every key is documented in README.md.
 */

const port = z.coerce.number().int().min(0).max(65535);
const optionalText = z.string().trim().min(1).optional();

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  ZHEDEL_DB: z.string().trim().min(1).default('./data/zhedel.db'),
  ZHEDEL_HTTP_HOST: z.string().trim().min(1).default('127.0.0.1'),
  ZHEDEL_HTTP_PORT: port.default(8080),
  ZHEDEL_HTTP_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(600),
  ZHEDEL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ZHEDEL_TZ: z.string().default('Asia/Almaty').refine(validTimeZone, 'not a known IANA time zone'),
  ZHEDEL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  ZHEDEL_ARI_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8088'),
  ZHEDEL_ARI_USER: z.string().trim().min(1).default('zhedel'),
  ZHEDEL_ARI_PASSWORD: z.string().default(''),
  ZHEDEL_ARI_APP: z.string().regex(/^[\w-]{1,64}$/, 'letters, digits, _ and - only').default('zhedel'),
  ZHEDEL_CALLOUT_ENDPOINT: z.string().includes('{number}', { message: 'must contain {number}' }).default('PJSIP/{number}@trunk'),

  ZHEDEL_AMI_HOST: z.string().trim().min(1).default('127.0.0.1'),
  ZHEDEL_AMI_PORT: port.default(5038),
  ZHEDEL_AMI_USER: z.string().trim().min(1).default('zhedel'),
  ZHEDEL_AMI_SECRET: z.string().default(''),

  ZHEDEL_SMPP_URL: z.string().regex(/^s?smpp:\/\/[^\s/:]+(:\d{1,5})?\/?$/, 'must look like smpp://host:port or ssmpp://host:port').default('smpp://127.0.0.1:2775'),
  ZHEDEL_SMPP_SYSTEM_ID: z.string().trim().min(1).max(15, 'SMPP system_id is at most 15 characters').default('zhedel'),
  ZHEDEL_SMPP_PASSWORD: z.string().max(8, 'SMPP password is at most 8 characters').default(''),
  ZHEDEL_SMPP_SYSTEM_TYPE: z.string().max(12).default(''),
  ZHEDEL_SMPP_SENDER: z.string().trim().min(1).max(16).default('ZHEDEL'),
  ZHEDEL_SMPP_TPS: z.coerce.number().min(0).max(10_000).default(50),
  ZHEDEL_SMPP_WINDOW: z.coerce.number().int().min(1).max(1000).default(10),
  ZHEDEL_SMPP_TLS_INSECURE: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true'),
  ZHEDEL_MONITORING_KEY: optionalText,
  ZHEDEL_ALARM_GROUP_S: z.coerce.number().int().min(0).max(86_400).default(300),
  ZHEDEL_ALARM_ACK_TIMEOUT_S: z.coerce.number().int().min(10).max(86_400).default(300),
  ZHEDEL_CALLOUT_ROUNDS: z.coerce.number().int().min(1).max(10).default(3),
  ZHEDEL_CALLOUT_PAUSE_S: z.coerce.number().int().min(0).max(3_600).default(60),
  ZHEDEL_CALLOUT_RING_S: z.coerce.number().int().min(5).max(120).default(30),
  ZHEDEL_BILLING_REMIND_DAYS: z.coerce.number().int().min(0).max(28).default(3),
  ZHEDEL_BACKUP_DIR: optionalText,
  ZHEDEL_BACKUP_KEEP_DAYS: z.coerce.number().int().min(1).max(3_650).default(14),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  env: Env['NODE_ENV'];
  dbPath: string;
  dataDir: string;
  http: { host: string; port: number; rateLimitPerMinute: number };
  secret: string;
  /** Where the secret came from: the environment, or the generated development file. */
  secretSource: 'env' | 'file';
  timeZone: string;
  logLevel: Env['ZHEDEL_LOG_LEVEL'];
  ari: { url: string; user: string; password: string; app: string; calloutEndpoint: string };
  ami: { host: string; port: number; user: string; secret: string };
  smpp: {
    url: string; systemId: string; password: string; systemType: string; sender: string; tps: number; window: number;
    tlsInsecure: boolean;
  };
  monitoringKey: string | null;
  alarms: { groupMs: number; ackTimeoutMs: number; rounds: number; roundPauseMs: number; ringSec: number };
  billing: { remindDays: number };
  backup: { dir: string; keepDays: number };
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
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const dbPath = e.ZHEDEL_DB === ':memory:' ? ':memory:' : resolve(e.ZHEDEL_DB);
  const dataDir = dbPath === ':memory:' ? resolve('data') : dirname(dbPath);
  let secret = e.ZHEDEL_SECRET;
  let secretSource: Config['secretSource'] = 'env';
  if (!secret) {
    if (e.NODE_ENV === 'production') {
      throw new ConfigError('invalid configuration:\n  ZHEDEL_SECRET: required in production (at least 32 characters)');
    }
    secret = developmentSecret(dataDir, opts.createSecret ?? true);
    secretSource = 'file';
  }
  return {
    env: e.NODE_ENV,
    dbPath,
    dataDir,
    http: { host: e.ZHEDEL_HTTP_HOST, port: e.ZHEDEL_HTTP_PORT, rateLimitPerMinute: e.ZHEDEL_HTTP_RATE_LIMIT },
    secret,
    secretSource,
    timeZone: e.ZHEDEL_TZ,
    logLevel: e.ZHEDEL_LOG_LEVEL,
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
    alarms: {
      groupMs: e.ZHEDEL_ALARM_GROUP_S * 1000, ackTimeoutMs: e.ZHEDEL_ALARM_ACK_TIMEOUT_S * 1000, rounds: e.ZHEDEL_CALLOUT_ROUNDS,
      roundPauseMs: e.ZHEDEL_CALLOUT_PAUSE_S * 1000, ringSec: e.ZHEDEL_CALLOUT_RING_S,
    },
    billing: { remindDays: e.ZHEDEL_BILLING_REMIND_DAYS },
    backup: { dir: e.ZHEDEL_BACKUP_DIR ? resolve(e.ZHEDEL_BACKUP_DIR) : join(dataDir, 'backups'), keepDays: e.ZHEDEL_BACKUP_KEEP_DAYS },
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
