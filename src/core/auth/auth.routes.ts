import rateLimit from '@fastify/rate-limit';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AuthError } from '../errors.js';
import { requireRole } from '../http/require-role.js';
import { errorBodySchema } from '../http/error-mapping.js';
import { toIso } from '../http/api.js';
import { ROLES } from './roles.js';
import type { AuthService } from './auth.service.js';
import { SESSION_COOKIE } from './auth.plugin.js';
import { FailedLoginCounter } from './login-throttle.js';

export interface AuthRoutesOptions {
  auth: AuthService;
  /** Failed logins allowed per client IP and minute (server.loginRateLimitPerMinute). */
  loginRateLimitPerMinute: number;
  /** unix ms; injectable for tests. */
  now?: () => number;
}

const userSchema = z.object({ name: z.string(), role: z.enum(ROLES) });
const userInfoSchema = z.object({ name: z.string(), role: z.enum(ROLES), createdAt: z.iso.datetime() });
const tokenInfoSchema = z.object({
  id: z.number().int(),
  user: z.string(),
  label: z.string(),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().nullable(),
});
const noContent = z.null().describe('no content');
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema };
const requireAdmin = requireRole('admin');
const adminOnly = { preHandler: (request: FastifyRequest) => requireAdmin(request) };
const security: Record<string, string[]>[] = [{ bearer: [] }, { session: [] }];

/** /auth, /users, /tokens (mounted under /api/v1). Thin: each route calls the service. */
export const authRoutes: FastifyPluginAsyncZod<AuthRoutesOptions> = async (
  app,
  { auth, loginRateLimitPerMinute, now },
) => {
  const failedLogins = new FailedLoginCounter(60_000, now);
  await app.register(rateLimit, {
    global: false,
    store: failedLogins.rateLimitStore(),
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`too many failed logins from this address: try again in ${context.after}`), {
        statusCode: 429,
        code: 'AUTH_RATE_LIMITED',
      }),
  });
  const cookieOptions = {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: 'auto',
    signed: true,
    maxAge: Math.floor(auth.sessionTtlMs / 1000),
  } as const;

  app.post(
    '/auth/login',
    {
      config: { rateLimit: { max: loginRateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['auth'],
        summary: 'Log in; sets the session cookie',
        body: z.object({ username: z.string().max(200), password: z.string().max(1024) }),
        response: { 200: z.object({ user: userSchema }), 401: errorBodySchema, 429: errorBodySchema },
      },
    },
    async (request, reply) => {
      const user = await auth.verifyLogin(request.body.username, request.body.password);
      if (!user) {
        failedLogins.recordFailure(request.ip);
        throw new AuthError('AUTH_INVALID', 'wrong user name or password');
      }
      void reply.setCookie(SESSION_COOKIE, auth.createSession(user), cookieOptions);
      return { user };
    },
  );

  app.post(
    '/auth/logout',
    { schema: { tags: ['auth'], summary: 'Log out; clears the session cookie' } },
    async (_request, reply) => reply.clearCookie(SESSION_COOKIE, { path: '/' }).code(204).send(),
  );

  app.get(
    '/auth/me',
    {
      config: { publicAccess: true },
      schema: {
        tags: ['auth'],
        summary: 'Who is logged in',
        response: { 200: z.object({ user: userSchema.nullable() }) },
      },
    },
    (request) => ({ user: request.user ? { name: request.user.name, role: request.user.role } : null }),
  );

  app.get(
    '/users',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        security,
        response: { 200: z.object({ items: z.array(userInfoSchema) }), ...errors },
      },
    },
    async () => ({
      items: (await auth.listUsers()).map((user) => ({ ...user, createdAt: toIso(user.createdAt) })),
    }),
  );

  app.post(
    '/users',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        security,
        body: z.object({ name: z.string(), role: z.enum(ROLES), password: z.string() }),
        response: { 201: userInfoSchema, 409: errorBodySchema, ...errors },
      },
    },
    async (request, reply) => {
      const user = await auth.addUser(request.body.name, request.body.role, request.body.password);
      return reply.code(201).send({ ...user, createdAt: toIso(user.createdAt) });
    },
  );

  app.delete(
    '/users/:name',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        security,
        params: z.object({ name: z.string() }),
        response: { 204: noContent, 404: errorBodySchema, ...errors },
      },
    },
    async (request, reply) => {
      await auth.removeUser(request.params.name);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/tokens',
    {
      ...adminOnly,
      schema: {
        tags: ['tokens'],
        security,
        response: { 200: z.object({ items: z.array(tokenInfoSchema) }), ...errors },
      },
    },
    async () => ({
      items: (await auth.listTokens()).map((token) => ({
        ...token,
        createdAt: toIso(token.createdAt),
        lastUsedAt: toIso(token.lastUsedAt),
      })),
    }),
  );

  app.post(
    '/tokens',
    {
      ...adminOnly,
      schema: {
        tags: ['tokens'],
        security,
        summary: 'Create an API token (shown once)',
        body: z.object({ user: z.string(), label: z.string().max(200).optional() }),
        response: {
          201: z.object({ id: z.number().int(), token: z.string() }),
          404: errorBodySchema,
          ...errors,
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await auth.createToken(request.body.user, request.body.label)),
  );

  app.delete(
    '/tokens/:id',
    {
      ...adminOnly,
      schema: {
        tags: ['tokens'],
        security,
        params: z.object({ id: z.coerce.number().int().positive() }),
        response: { 204: noContent, 404: errorBodySchema, ...errors },
      },
    },
    async (request, reply) => {
      await auth.revokeToken(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
