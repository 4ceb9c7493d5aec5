import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, coerceError } from '../errors.js';
import { ROLES, type AuthenticatedUser, type Role } from './roles.js';
import type { AuthRepository } from './auth.repository.js';
import { hashPassword, verifyPassword } from './password.js';
import { encodeSession, parseSession } from './credentials.parser.js';

export interface UserInfo {
  name: string;
  role: Role;
  /** unix ms */
  createdAt: number;
}

export interface TokenInfo {
  id: number;
  /** The owner's user name. */
  user: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface AuthServiceOptions {
  repository: AuthRepository;
  /** unix ms; injectable for tests. Default Date.now. */
  now?: () => number;
  /** How long a login session lasts. Default 7 days. */
  sessionTtlMs?: number;
}

export const USER_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 8;
export const TOKEN_PREFIX = 'cst_';
export const DEFAULT_SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const COOKIE_SECRET_KEY = 'auth.cookie_secret';
const CLOCK_SKEW_MS = 60_000;

function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Users, API tokens and login sessions. Passwords are stored as scrypt hashes and tokens as
 * sha256 hashes; neither the password nor the token can be read back.
 */
export class AuthService {
  private readonly repository: AuthRepository;
  private readonly now: () => number;
  readonly sessionTtlMs: number;
  private cookieSecret?: Promise<string>;
  // Verifying against this when the user does not exist keeps the response time of an unknown
  // user name close to that of a wrong password.
  private dummyHash?: Promise<string>;

  constructor(options: AuthServiceOptions) {
    this.repository = options.repository;
    this.now = options.now ?? Date.now;
    this.sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  }

  async addUser(name: string, role: string, password: string): Promise<UserInfo> {
    if (!USER_NAME_PATTERN.test(name)) {
      throw new InputError(
        'AUTH_BAD_USER_NAME',
        `user name "${name}" is not valid: use 1-64 characters, lower-case letters, digits, _ . -, starting with a letter`,
      );
    }
    if (!isRole(role)) {
      throw new InputError('AUTH_BAD_ROLE', `role "${role}" is not valid: use one of ${ROLES.join(', ')}`);
    }
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new InputError(
        'AUTH_WEAK_PASSWORD',
        `the password must have at least ${MIN_PASSWORD_LENGTH} characters`,
      );
    }
    const createdAt = this.now();
    const inserted = await this.repository.insertUser({
      name,
      role,
      passwordHash: await hashPassword(password),
      createdAt,
    });
    if (!inserted) {
      throw new ConflictError(
        'AUTH_USER_EXISTS',
        `user "${name}" already exists: pick another name or remove it first`,
      );
    }
    return { name, role, createdAt };
  }

  async listUsers(): Promise<UserInfo[]> {
    const rows = await this.repository.listUsers();
    return rows.flatMap((row) =>
      isRole(row.role) ? [{ name: row.name, role: row.role, createdAt: row.createdAt }] : [],
    );
  }

  /** Removes a user and the user's tokens. The last admin cannot be removed. */
  async removeUser(name: string): Promise<void> {
    const user = await this.repository.findUser(name);
    if (!user)
      throw new NotFoundError(
        'AUTH_USER_NOT_FOUND',
        `there is no user "${name}" (see \`custodian users list\`)`,
      );
    if (user.role === 'admin' && (await this.repository.countUsersWithRole('admin')) <= 1) {
      throw new ConflictError(
        'AUTH_LAST_ADMIN',
        `"${name}" is the last admin: add another admin before removing it`,
      );
    }
    if (!(await this.repository.deleteUser(name))) {
      throw new NotFoundError(
        'AUTH_USER_NOT_FOUND',
        `there is no user "${name}" (see \`custodian users list\`)`,
      );
    }
  }

  /** The user when name and password match; undefined otherwise (an expected outcome). */
  async verifyLogin(name: string, password: string): Promise<{ name: string; role: Role } | undefined> {
    const user = USER_NAME_PATTERN.test(name) ? await this.repository.findUser(name) : undefined;
    if (!user) {
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.dummyHash);
      return undefined;
    }
    if (!(await verifyPassword(password, user.passwordHash)) || !isRole(user.role)) return undefined;
    return { name: user.name, role: user.role };
  }

  /** Creates an API token for `userName`; the token is returned once and only its hash is kept. */
  async createToken(userName: string, label = ''): Promise<{ id: number; token: string }> {
    const user = await this.repository.findUser(userName);
    if (!user) {
      throw new NotFoundError(
        'AUTH_USER_NOT_FOUND',
        `there is no user "${userName}": add it with \`custodian users add\``,
      );
    }
    if (label.length > 200)
      throw new InputError('AUTH_BAD_LABEL', 'a token label has at most 200 characters');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const id = await this.repository.insertToken({
      userId: user.id,
      label,
      tokenHash: hashToken(token),
      createdAt: this.now(),
    });
    return { id, token };
  }

  listTokens(): Promise<TokenInfo[]> {
    return this.repository.listTokens();
  }

  async revokeToken(id: number): Promise<void> {
    if (!(await this.repository.deleteToken(id))) {
      throw new NotFoundError(
        'AUTH_TOKEN_NOT_FOUND',
        `there is no token ${id} (see \`custodian tokens list\`)`,
      );
    }
  }

  /** The token's user (stamping its last use); undefined for an unknown or revoked token. */
  async authenticateToken(token: string): Promise<AuthenticatedUser | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const user = await this.repository.useToken(hashToken(token), this.now());
    if (!user || !isRole(user.role)) return undefined;
    return { name: user.name, role: user.role, via: 'token' };
  }

  /** The value to put in the (signed) session cookie after a successful login. */
  createSession(user: { name: string }): string {
    return encodeSession({ name: user.name, issuedAt: this.now() });
  }

  /**
   * The session's user, with the role re-read from the database so that a role change or
   * removal takes effect at once; undefined for an unreadable or expired session.
   */
  async authenticateSession(value: string): Promise<AuthenticatedUser | undefined> {
    const session = parseSession(value);
    if (!session) return undefined;
    const age = this.now() - session.issuedAt;
    // A little tolerance for clocks of several API servers that disagree slightly.
    if (age < -CLOCK_SKEW_MS || age > this.sessionTtlMs) return undefined;
    const user = await this.repository.findUser(session.name);
    if (!user || !isRole(user.role)) return undefined;
    return { name: user.name, role: user.role, via: 'session' };
  }

  /** The secret that signs session cookies: generated on first use and kept in the database. */
  getCookieSecret(): Promise<string> {
    this.cookieSecret ??= this.loadCookieSecret().catch((error: unknown) => {
      this.cookieSecret = undefined;
      throw coerceError(error);
    });
    return this.cookieSecret;
  }

  private async loadCookieSecret(): Promise<string> {
    const stored = await this.repository.findSetting(COOKIE_SECRET_KEY);
    if (stored !== undefined) return stored;
    // Two processes starting at once both try; the first insert wins and both read it back.
    return this.repository.insertSettingOnce(COOKIE_SECRET_KEY, randomBytes(32).toString('base64url'));
  }
}
