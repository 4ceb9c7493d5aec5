import { z } from 'zod';

/**
 * Parsers for the credentials a request carries: the Authorization header and the (already
 * signature-checked) session cookie payload. Both are outside input and must never throw.
 */
export type AuthorizationHeader =
  | { kind: 'none' }
  /** `Bearer <token68>` */
  | { kind: 'bearer'; token: string }
  /** Says Bearer but the credentials are missing or not a token. */
  | { kind: 'malformed-bearer' }
  /** Another scheme (e.g. Basic from a reverse proxy): not ours, ignored. */
  | { kind: 'other' };

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function parseAuthorizationHeader(value: string | undefined): AuthorizationHeader {
  if (value === undefined || value.trim() === '') return { kind: 'none' };
  const match = BEARER.exec(value);
  if (match?.[1] !== undefined) return { kind: 'bearer', token: match[1] };
  if (/^\s*bearer(\s|$)/i.test(value)) return { kind: 'malformed-bearer' };
  return { kind: 'other' };
}

/** What the signed session cookie holds: who, and when the session began (unix ms). */
export interface SessionPayload {
  name: string;
  issuedAt: number;
}

const sessionSchema = z.object({
  v: z.literal(1),
  n: z.string().min(1).max(64),
  iat: z.number().int().nonnegative(),
});

export function encodeSession(payload: SessionPayload): string {
  return Buffer.from(JSON.stringify({ v: 1, n: payload.name, iat: payload.issuedAt })).toString('base64url');
}

export function parseSession(value: string): SessionPayload | undefined {
  if (value.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = sessionSchema.safeParse(decoded);
  return parsed.success ? { name: parsed.data.n, issuedAt: parsed.data.iat } : undefined;
}
