/**
 * Errors with stable codes. Every refusal a caller can cause carries one of these codes;
 * channels translate the code (to an HTTP status, a prompt, an SMS text, a CLI line) and
 * never parse messages. `status` is the HTTP status it maps to; 5xx means "our fault".
 */
export const ERROR_CODES = {
  BAD_INPUT: 400,
  BAD_PHONE: 400,
  BAD_AMOUNT: 400,
  BAD_CODE_FORMAT: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CLIENT_NOT_FOUND: 404,
  OBJECT_NOT_FOUND: 404,
  NUMBER_NOT_FOUND: 404,
  CHALLENGE_NOT_FOUND: 404,
  CONFLICT: 409,
  NUMBER_TAKEN: 409,
  OBJECT_CODE_TAKEN: 409,
  NUMBER_STATE: 409,
  OBJECT_NOT_ALLOWED: 403,
  NUMBER_REFUSED: 403,
  SERVICE_SUSPENDED: 402,
  CODE_WRONG: 422,
  CODE_EXPIRED: 410,
  CODE_USED: 409,
  CODE_DEAD: 410,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra, non-secret facts a channel may show (e.g. attempts left, retry after seconds). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = details;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
