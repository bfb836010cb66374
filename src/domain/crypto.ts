import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';

/**
 * Keys derived from the one service secret (ZHEDEL_SECRET), one per purpose, so that a key
 * leaked from one use does not open another.
 */
export interface Keys {
  /** HMAC key for one-time codes. */
  otp: Buffer;
  /** AES-256-GCM key for SMS bodies that carry codes. */
  outbox: Buffer;
  /** HMAC key for session and operator tokens. */
  token: Buffer;
  /** HMAC key for clients' duress codes. */
  duress: Buffer;
  /** AES-256-GCM key that seals alarm panels' DC-09 keys in the database. */
  panel: Buffer;
}

export function deriveKeys(secret: string): Keys {
  const ikm = Buffer.from(secret, 'utf8');
  const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', ikm, 'zhedel-online', label, 32));
  return { otp: derive('otp'), outbox: derive('outbox'), token: derive('token'), duress: derive('duress'), panel: derive('panel') };
}

/** Encrypts `plain` with a fresh 12-byte `iv`; output is iv | tag | ciphertext. */
export function seal(key: Buffer, iv: Buffer, plain: string, aad: string): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]);
}

export function open(key: Buffer, sealed: Buffer, aad: string): string {
  const iv = sealed.subarray(0, 12);
  const tag = sealed.subarray(12, 28);
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8');
}

/** Tokens are stored as an HMAC of the token, never in clear. */
export function tokenHash(key: Buffer, token: string): string {
  return createHmac('sha256', key).update(`token:${token}`).digest('hex');
}
