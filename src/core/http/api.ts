import type { FastifyBaseLogger, FastifyInstance, FastifyPluginOptions, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyPluginAsyncZod,
  FastifyPluginCallbackZod,
  ZodTypeProvider,
} from 'fastify-type-provider-zod';

/** Every JSON route lives under this prefix. */
export const API_PREFIX = '/api/v1';

/** The server instance, typed for zod route schemas. */
export type HttpServer = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** Whether a URL belongs to the API (JSON errors, auth), as opposed to the web app's files. */
export function isApiUrl(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url.startsWith('/api?');
}

/**
 * Registers a module's route plugin under /api/v1. Call before `ready()`/`listen()`:
 * `registerApiRoutes(server, ingestRoutes, { service })`.
 */
export function registerApiRoutes<Options extends FastifyPluginOptions>(
  app: HttpServer,
  plugin: FastifyPluginAsyncZod<Options> | FastifyPluginCallbackZod<Options>,
  options: Options,
): void {
  void app.register(plugin, { ...options, prefix: API_PREFIX });
}

/** unix ms → ISO 8601 UTC, as the API shows `...At` fields. */
export function toIso(ms: number): string;
export function toIso(ms: number | null): string | null;
export function toIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
