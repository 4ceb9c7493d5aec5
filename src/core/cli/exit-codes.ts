import { isCustodianError, type ErrorKind } from '../errors.js';

/** Exit codes (DESIGN.md §2). This is the only place an error kind becomes an exit code. */
export const ExitCode = {
  ok: 0,
  /** Done, but problems were found (verification failed, differences found). */
  problemsFound: 1,
  usage: 2,
  notFound: 3,
  unavailable: 4,
  internal: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const byKind: Record<ErrorKind, ExitCode> = {
  InputError: ExitCode.usage,
  NotFoundError: ExitCode.notFound,
  ConflictError: ExitCode.usage,
  UnavailableError: ExitCode.unavailable,
  IntegrityError: ExitCode.problemsFound,
  AuthError: ExitCode.usage,
  ForbiddenError: ExitCode.usage,
  InternalError: ExitCode.internal,
};

export function exitCodeFor(error: unknown): ExitCode {
  return isCustodianError(error) ? byKind[error.kind] : ExitCode.internal;
}
