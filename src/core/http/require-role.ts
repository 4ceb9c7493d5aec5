import type { FastifyRequest } from 'fastify';
import { AuthError, ForbiddenError } from '../errors.js';
import { hasRole, type AuthenticatedUser, type Role } from '../auth/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth plugin from the session cookie or bearer token; undefined when anonymous. */
    user?: AuthenticatedUser;
  }
  interface FastifyContextConfig {
    /**
     * Readable by anyone even when `server.publicRead` is false (e.g. /meta and /auth/me, which
     * the web app needs before it can show the login page).
     */
    publicAccess?: boolean;
  }
}

/**
 * Route guard: `preHandler: requireRole('operator')`. Every write route uses one. Reads need no
 * guard: when `server.publicRead` is false the server itself requires a viewer for every /api GET.
 */
export function requireRole(role: Role) {
  return (request: FastifyRequest): Promise<void> => {
    if (!request.user) {
      return Promise.reject(
        new AuthError(
          'AUTH_REQUIRED',
          `this action needs a logged-in ${role}: log in or send "Authorization: Bearer <token>"`,
        ),
      );
    }
    if (!hasRole(request.user.role, role)) {
      return Promise.reject(
        new ForbiddenError(
          'AUTH_FORBIDDEN',
          `this action needs the ${role} role; ${request.user.name} is ${request.user.role}`,
        ),
      );
    }
    return Promise.resolve();
  };
}
