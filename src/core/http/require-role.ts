import type { FastifyRequest } from 'fastify';
import { AuthError, ForbiddenError } from '../errors.js';
import { hasRole, type AuthenticatedUser, type Role } from '../auth/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth plugin from the session cookie or bearer token; undefined when anonymous. */
    user?: AuthenticatedUser;
  }
}

/**
 * Route guard: `preHandler: requireRole('operator')`. Every write route uses one; reads use
 * `requireRead` which honours `server.publicRead`.
 */
export function requireRole(role: Role) {
  return (request: FastifyRequest): Promise<void> => {
    if (!request.user) {
      return Promise.reject(new AuthError('AUTH_REQUIRED', `this action needs a logged-in ${role}: log in or send "Authorization: Bearer <token>"`));
    }
    if (!hasRole(request.user.role, role)) {
      return Promise.reject(new ForbiddenError('AUTH_FORBIDDEN', `this action needs the ${role} role; ${request.user.name} is ${request.user.role}`));
    }
    return Promise.resolve();
  };
}
