import path from 'node:path';
import { sql } from 'kysely';
import { createHttpServer } from '../core/http/server.js';
import { registerApiRoutes, type HttpServer } from '../core/http/api.js';
import { createMetricsRegistry } from '../core/http/metrics.js';
import { UnavailableError, coerceError } from '../core/errors.js';
import { alertsRoutes } from '../core/alerts/alerts.routes.js';
import { ingestRoutes } from '../modules/ingest/index.js';
import { transferRoutes } from '../modules/transfer/index.js';
import { auditRoutes } from '../modules/audit/index.js';
import type { App } from './app.js';
import { PACKAGE_ROOT, VERSION } from './version.js';

/** Assembles the HTTP server from the app: core routes, then each enabled module's routes. */
export async function buildHttpServer(app: App): Promise<HttpServer> {
  const { server: serverConfig } = app.config;
  const metrics = createMetricsRegistry({ defaultMetrics: true });
  const server = createHttpServer({
    logger: app.logger,
    version: VERSION,
    modules: app.modules,
    publicRead: serverConfig.publicRead,
    maxUploadBytes: Math.max(serverConfig.maxUploadBytes, app.config.ingest?.maxUploadBytes ?? 0),
    loginRateLimitPerMinute: serverConfig.loginRateLimitPerMinute,
    auth: app.auth,
    metrics,
    webDir: path.join(PACKAGE_ROOT, 'dist', 'web'),
    healthCheck: async () => {
      try {
        await sql`select 1`.execute(app.database.db);
      } catch (error) {
        throw new UnavailableError('DB_UNAVAILABLE', `database unreachable: ${coerceError(error).message}`);
      }
    },
  });
  registerApiRoutes(server, alertsRoutes, { alerts: app.alerts });
  if (app.ingest) registerApiRoutes(server, ingestRoutes, { service: app.ingest.service });
  if (app.transfer) registerApiRoutes(server, transferRoutes, { service: app.transfer.service });
  if (app.audit)
    registerApiRoutes(server, auditRoutes, {
      service: app.audit.service,
      queueRun: (site) => app.queueAudit(site),
    });
  await server.ready();
  return server;
}
