import { randomBytes } from 'node:crypto';
import type { Database } from '../../../src/core/db/database.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { authMigrations } from '../../../src/core/auth/auth.migrations.js';
import { AuthRepository } from '../../../src/core/auth/auth.repository.js';
import { AuthService } from '../../../src/core/auth/auth.service.js';
import { createHttpServer, type HttpServerOptions } from '../../../src/core/http/server.js';
import { createMetricsRegistry } from '../../../src/core/http/metrics.js';
import type { HttpServer } from '../../../src/core/http/api.js';
import { silentLogger } from '../../../src/core/logger.js';

/** A clock tests can move. */
export class FakeClock {
  constructor(public ms = Date.UTC(2024, 0, 15, 12, 0, 0)) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const PASSWORDS = {
  admin: 'admin-password',
  operator: 'operator-password',
  viewer: 'viewer-password',
} as const;

/** Migrates auth, adds one user per role and returns the service. */
export async function setUpAuth(database: Database, clock: FakeClock): Promise<AuthService> {
  await migrateToLatest(database, [authMigrations]);
  const auth = new AuthService({ repository: new AuthRepository(database), now: clock.now });
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    if (!(await auth.listUsers()).some((user) => user.name === role))
      await auth.addUser(role, role, PASSWORDS[role]);
  }
  return auth;
}

export function buildServer(
  auth: AuthService,
  clock: FakeClock,
  overrides: Partial<HttpServerOptions> = {},
): HttpServer {
  return createHttpServer({
    logger: silentLogger(),
    version: '9.9.9-test',
    modules: ['ingest'],
    publicRead: true,
    maxUploadBytes: 1024,
    loginRateLimitPerMinute: 3,
    auth,
    healthCheck: () => Promise.resolve(),
    metrics: createMetricsRegistry(),
    now: clock.now,
    ...overrides,
  });
}

/** Logs in through the API and returns the session cookie to send back. */
export async function login(
  app: HttpServer,
  username: string,
  password: string,
): Promise<Record<string, string>> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
    // A fresh address per login, so the failed-login limit of one test never affects another.
    remoteAddress: `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`,
  });
  if (response.statusCode !== 200)
    throw new Error(`login as ${username} failed: ${response.statusCode} ${response.body}`);
  const cookie = response.cookies.find((c) => c.name === 'custodian_session');
  if (!cookie) throw new Error('login set no session cookie');
  return { [cookie.name]: cookie.value };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
