import { z } from 'zod';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpServer } from './api.js';
import { isCustodianError, type ErrorKind } from '../errors.js';

/**
 * The one place where an error becomes an HTTP status and body. Services throw error kinds
 * (core/errors.ts); Fastify and its plugins throw errors with a `statusCode`; everything else
 * is a fault: 500 with a generic message, the error itself goes to the log only.
 */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** How the error is worth logging: faults at error, outages at warn, the rest not at all. */
  log: 'error' | 'warn' | false;
}

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  InputError: 400,
  AuthError: 401,
  ForbiddenError: 403,
  NotFoundError: 404,
  ConflictError: 409,
  IntegrityError: 422,
  UnavailableError: 503,
  InternalError: 500,
};

const INTERNAL: MappedError = {
  status: 500,
  body: { error: { code: 'INTERNAL_ERROR', message: 'internal error; the server log has the details' } },
  log: 'error',
};

interface ValidationIssue {
  instancePath?: string;
  message?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** `/items/0/name` → `items.0.name`; the root is named after where it came from. */
function fieldName(instancePath: string | undefined, location: string): string {
  const path = (instancePath ?? '').split('/').filter((part) => part !== '');
  return path.length === 0 ? location : path.join('.');
}

function mapValidation(issues: readonly unknown[], location: string): MappedError {
  const described = issues.map((issue) => {
    const { instancePath, message } = (isRecord(issue) ? issue : {}) as ValidationIssue;
    return { path: fieldName(instancePath, location), message: message ?? 'is not valid' };
  });
  const summary = described.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return {
    status: 400,
    body: body('INPUT_INVALID', `invalid ${location}: ${summary}`, { location, issues: described }),
    log: false,
  };
}

const FRAMEWORK_CODES: Record<number, { code: string; message: string }> = {
  404: { code: 'NOT_FOUND', message: 'not found' },
  413: { code: 'BODY_TOO_LARGE', message: 'the request body is larger than this server accepts' },
  415: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type: send application/json' },
  429: { code: 'RATE_LIMITED', message: 'too many requests: wait a minute and try again' },
};

function mapClientError(error: Record<string, unknown>, status: number): MappedError {
  const ownCode =
    typeof error.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(error.code) ? error.code : undefined;
  const message = typeof error.message === 'string' && error.message !== '' ? error.message : undefined;
  // Plugin errors with a code of our own style (e.g. AUTH_RATE_LIMITED) keep it; Fastify's
  // FST_* codes are replaced by stable ones.
  if (ownCode && !ownCode.startsWith('FST_'))
    return { status, body: body(ownCode, message ?? 'request refused'), log: false };
  if (ownCode === 'FST_REQ_FILE_TOO_LARGE') {
    return {
      status,
      body: body('UPLOAD_TOO_LARGE', 'the uploaded file is larger than this server accepts'),
      log: false,
    };
  }
  const known = FRAMEWORK_CODES[status];
  if (known) return { status, body: body(known.code, message ?? known.message), log: false };
  return { status, body: body('INPUT_INVALID', message ?? 'the request is not valid'), log: false };
}

export function mapError(error: unknown): MappedError {
  if (isCustodianError(error)) {
    const status = STATUS_BY_KIND[error.kind];
    if (status >= 500 && status !== 503) return INTERNAL;
    return {
      status,
      body: body(error.code, error.message, error.details),
      log: status === 503 ? 'warn' : false,
    };
  }
  if (!isRecord(error)) return INTERNAL;
  if (Array.isArray(error.validation)) {
    const location = typeof error.validationContext === 'string' ? error.validationContext : 'request';
    return mapValidation(error.validation, location);
  }
  const status = error.statusCode;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500) {
    return mapClientError(error, status);
  }
  return INTERNAL;
}

/** The 404 body for a route that does not exist. */
export function routeNotFound(request: FastifyRequest): ErrorBody {
  return body(
    'ROUTE_NOT_FOUND',
    `no route ${request.method} ${request.url.split('?')[0] ?? ''}: see /api/docs`,
  );
}

/** Installs the error handler on the root instance (it applies to every plugin). */
export function installErrorHandler(app: HttpServer): void {
  app.setErrorHandler((error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = mapError(error);
    if (mapped.log === 'error') request.log.error({ err: error }, `request failed: ${error.message}`);
    else if (mapped.log === 'warn') request.log.warn({ err: error }, error.message);
    return reply.status(mapped.status).send(mapped.body);
  });
}
