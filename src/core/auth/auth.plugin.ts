import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AuthError } from '../errors.js';
import { isApiUrl } from '../http/api.js';
import type { AuthenticatedUser } from './roles.js';
import type { AuthService } from './auth.service.js';
import { parseAuthorizationHeader } from './credentials.parser.js';

export const SESSION_COOKIE = 'custodian_session';

export interface AuthPluginOptions {
  auth: AuthService;
}

/**
 * Who is asking: `Authorization: Bearer <token>` wins over the session cookie. A bearer token
 * that does not authenticate is refused (401) rather than treated as anonymous, so a script
 * with a revoked token fails loudly; a bad or expired cookie just means anonymous.
 */
async function identify(request: FastifyRequest, auth: AuthService): Promise<AuthenticatedUser | undefined> {
  const authorization = parseAuthorizationHeader(request.headers.authorization);
  switch (authorization.kind) {
    case 'bearer': {
      const user = await auth.authenticateToken(authorization.token);
      if (!user) {
        throw new AuthError(
          'AUTH_INVALID_TOKEN',
          'the API token is unknown or revoked: create one with `custodian tokens create --user NAME`',
        );
      }
      return user;
    }
    case 'malformed-bearer':
      throw new AuthError('AUTH_INVALID_TOKEN', 'the Authorization header must be "Bearer <token>"');
    case 'none':
    case 'other':
      break;
  }
  const cookie = request.cookies[SESSION_COOKIE];
  if (cookie === undefined || cookie === '') return undefined;
  const unsigned = request.unsignCookie(cookie);
  return unsigned.valid ? auth.authenticateSession(unsigned.value) : undefined;
}

/**
 * Registers @fastify/cookie (signed with the secret kept in the database) and sets
 * `request.user` for every /api request. Not encapsulated: the hook applies to all routes.
 */
const plugin: FastifyPluginAsync<AuthPluginOptions> = async (app: FastifyInstance, { auth }) => {
  const secret = await auth.getCookieSecret();
  await app.register(fastifyCookie, { secret, hook: 'onRequest' });
  app.decorateRequest('user', undefined);
  app.addHook('onRequest', async (request) => {
    if (isApiUrl(request.url)) request.user = await identify(request, auth);
  });
};

export const authPlugin = Object.assign(plugin, { [Symbol.for('skip-override')]: true });
