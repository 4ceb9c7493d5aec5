/**
 * Error kinds thrown by services. Each has a stable `code` string that scripts can rely on;
 * the HTTP status is decided in core/http/error-mapping.ts and the exit code in
 * core/cli/exit-codes.ts, nowhere else. Expected outcomes (a checksum mismatch, a skipped file)
 * are returned as values, not thrown.
 */
export type ErrorKind =
  | 'InputError'
  | 'NotFoundError'
  | 'ConflictError'
  | 'UnavailableError'
  | 'IntegrityError'
  | 'AuthError'
  | 'ForbiddenError'
  | 'InternalError';

export abstract class CustodianError extends Error {
  abstract readonly kind: ErrorKind;
  /** Stable, machine-readable code, e.g. `INGEST_BAD_NAME`. */
  readonly code: string;
  readonly details?: unknown;

  constructor(code: string, message: string, options?: { details?: unknown; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

/** Bad input from a user or a file: fix the input and try again. */
export class InputError extends CustodianError {
  readonly kind = 'InputError';
}
export class NotFoundError extends CustodianError {
  readonly kind = 'NotFoundError';
}
export class ConflictError extends CustodianError {
  readonly kind = 'ConflictError';
}
/** A remote service, program or database could not be reached; retrying later may work. */
export class UnavailableError extends CustodianError {
  readonly kind = 'UnavailableError';
}
/** Data is not what it should be (content differs, checksum wrong) and we refuse to go on. */
export class IntegrityError extends CustodianError {
  readonly kind = 'IntegrityError';
}
/** Not authenticated. */
export class AuthError extends CustodianError {
  readonly kind = 'AuthError';
}
/** Authenticated, but the role does not allow the action. */
export class ForbiddenError extends CustodianError {
  readonly kind = 'ForbiddenError';
}
export class InternalError extends CustodianError {
  readonly kind = 'InternalError';
}

/** Turns anything thrown into an Error, so every catch can rely on `.message`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  try {
    return new Error(`Non-error thrown: ${JSON.stringify(thrown)}`);
  } catch {
    return new Error(`Non-error thrown: ${String(thrown)}`);
  }
}

export function isCustodianError(error: unknown): error is CustodianError {
  return error instanceof CustodianError;
}
