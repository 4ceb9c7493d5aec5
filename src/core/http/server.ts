import fs from 'node:fs';
import path from 'node:path';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyPluginCallback,
  type FastifyPluginOptions,
} from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import { z } from 'zod';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type FastifyPluginCallbackZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { AuthError, coerceError } from '../errors.js';
import type { AuthService } from '../auth/auth.service.js';
import { authPlugin, SESSION_COOKIE } from '../auth/auth.plugin.js';
import { authRoutes } from '../auth/auth.routes.js';
import { installErrorHandler, routeNotFound } from './error-mapping.js';
import { httpMetrics } from './metrics.js';
import { API_PREFIX, isApiUrl, type HttpServer } from './api.js';

export interface HttpServerOptions {
  logger: Logger;
  /** Shown by GET /api/v1/meta and in the OpenAPI document. */
  version: string;
  /** Names of the enabled modules, shown by GET /api/v1/meta (e.g. ["ingest"]). */
  modules: string[];
  /** server.publicRead: when false, every /api GET needs a logged-in viewer. */
  publicRead: boolean;
  /** server.maxUploadBytes: largest file a multipart upload may carry. */
  maxUploadBytes: number;
  /** server.loginRateLimitPerMinute: failed logins allowed per client IP and minute. */
  loginRateLimitPerMinute: number;
  auth: AuthService;
  /** Throws when the database cannot be reached; /healthz answers 503 then. */
  healthCheck: () => Promise<void>;
  /** Served at /metrics; HTTP request metrics are added to it. */
  metrics: Registry;
  /** The built web app (dist/web); unknown non-/api GETs get its index.html. */
  webDir?: string;
  /** unix ms; injectable for tests (login throttling, sessions use the AuthService's clock). */
  now?: () => number;
}

/** The web app's folder when it has been built; a warning (and API only) otherwise. */
function webAppDir(options: HttpServerOptions): string | undefined {
  if (options.webDir === undefined) return undefined;
  if (fs.existsSync(path.join(options.webDir, 'index.html'))) return path.resolve(options.webDir);
  options.logger.warn(
    `no web app in ${options.webDir} (index.html missing): serving the API only; build it with npm run build:web`,
  );
  return undefined;
}

/** Marks a plugin as not encapsulated, so its hooks apply to every route. */
function global<O extends FastifyPluginOptions>(plugin: FastifyPluginCallback<O>): FastifyPluginCallback<O> {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}

const metaRoutes: FastifyPluginCallbackZod<{ version: string; modules: string[]; publicRead: boolean }> = (
  app,
  meta,
  done,
) => {
  app.get(
    '/meta',
    {
      config: { publicAccess: true },
      schema: {
        tags: ['meta'],
        summary: 'Server version, enabled modules, whether reads are public',
        response: {
          200: z.object({ version: z.string(), modules: z.array(z.string()), publicRead: z.boolean() }),
        },
      },
    },
    () => ({ version: meta.version, modules: meta.modules, publicRead: meta.publicRead }),
  );
  done();
};

/**
 * Builds the API + web server: zod validation and serialization, OpenAPI at /api/openapi.json
 * (UI at /api/docs), cookies and sessions, bearer tokens, multipart uploads, the error wire
 * format, /healthz and /metrics, and the auth routes. Modules add their routes with
 * `registerApiRoutes(server, plugin, options)` before `ready()`/`listen()`.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance,
    // Request lines are logged at debug by the hook below instead of at info for every request.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);

  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Custodian API', version: options.version },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API token from `custodian tokens create`' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: SESSION_COOKIE,
            description: 'set by POST /api/v1/auth/login',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  void app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
  void app.register(fastifyMultipart, { limits: { fileSize: options.maxUploadBytes } });
  void app.register(authPlugin, { auth: options.auth });

  // After the auth plugin, so that request.user is known when this hook runs.
  void app.register(
    global((scope, _options, done) => {
      scope.addHook('onRequest', (request, _reply, next) => {
        const isRead = request.method === 'GET' || request.method === 'HEAD';
        const open = options.publicRead || request.routeOptions.config.publicAccess === true;
        if (!isRead || open || request.user || !isApiUrl(request.url)) return next();
        next(
          new AuthError(
            'AUTH_REQUIRED',
            'this server does not allow anonymous reads (server.publicRead is false): log in or send "Authorization: Bearer <token>"',
          ),
        );
      });
      done();
    }),
  );

  const metrics = httpMetrics(options.metrics);
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
    request.log.debug(
      { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
    done();
  });

  app.get('/healthz', { schema: { hide: true } }, async (request, reply) => {
    try {
      await options.healthCheck();
      return { status: 'ok', database: 'ok' };
    } catch (error) {
      request.log.warn({ err: coerceError(error) }, 'health check failed');
      return reply.code(503).send({ status: 'unavailable', database: 'unavailable' });
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(options.metrics.contentType).send(await options.metrics.metrics()),
  );
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());

  void app.register(metaRoutes, {
    prefix: API_PREFIX,
    version: options.version,
    modules: options.modules,
    publicRead: options.publicRead,
  });
  void app.register(authRoutes, {
    prefix: API_PREFIX,
    auth: options.auth,
    loginRateLimitPerMinute: options.loginRateLimitPerMinute,
    now: options.now,
  });

  const webDir = webAppDir(options);
  if (webDir !== undefined) void app.register(fastifyStatic, { root: webDir, prefix: '/' });
  app.setNotFoundHandler((request, reply) => {
    const isRead = request.method === 'GET' || request.method === 'HEAD';
    // The web app routes on the client: a page URL it may know gets index.html; a missing file
    // (a name with an extension) stays a 404 so the browser does not get HTML for a script.
    const isPage = !/\.[^/]*$/.test(request.url.split('?')[0] ?? '');
    if (webDir !== undefined && isRead && isPage && !isApiUrl(request.url)) {
      return reply.type('text/html').sendFile('index.html');
    }
    return reply.code(404).send(routeNotFound(request));
  });
  return app;
}
