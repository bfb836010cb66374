import pino from 'pino';
import type { Logger, DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may carry a code, a token or a password; pino replaces them before a line is
 * written. Code never logs such values on purpose — this is the second line of defence.
 */
export const REDACT_PATHS = [
  'code', 'otp', 'password', 'token', 'secret', 'authorization', 'text', 'body',
  '*.code', '*.otp', '*.password', '*.token', '*.secret', '*.authorization', '*.text', '*.body',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'zhedel' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
