import type { Kysely } from 'kysely';
import { tables, type Database } from '../db/database.js';
import type { AuthTables } from './auth.table.js';

export interface UserRow {
  id: number;
  name: string;
  role: string;
  passwordHash: string;
  createdAt: number;
}

export interface TokenRow {
  id: number;
  user: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** All SQL of core/auth; portable across SQLite and PostgreSQL. */
export class AuthRepository {
  private readonly db: Kysely<AuthTables>;

  constructor(database: Database) {
    this.db = tables<AuthTables>(database);
  }

  async findUser(name: string): Promise<UserRow | undefined> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'name', 'role', 'password_hash', 'created_at'])
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async listUsers(): Promise<UserRow[]> {
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'name', 'role', 'password_hash', 'created_at'])
      .orderBy('name')
      .execute();
    return rows.map(toUser);
  }

  async countUsersWithRole(role: string): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', role)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Inserts a user; false when the name is taken (checked by the unique index, race-free). */
  async insertUser(user: {
    name: string;
    role: string;
    passwordHash: string;
    createdAt: number;
  }): Promise<boolean> {
    const result = await this.db
      .insertInto('users')
      .values({
        name: user.name,
        role: user.role,
        password_hash: user.passwordHash,
        created_at: user.createdAt,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Deletes a user and (by cascade) the user's tokens; false when there was no such user. */
  async deleteUser(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async insertToken(token: {
    userId: number;
    label: string;
    tokenHash: string;
    createdAt: number;
  }): Promise<number> {
    const row = await this.db
      .insertInto('api_tokens')
      .values({
        user_id: token.userId,
        label: token.label,
        token_hash: token.tokenHash,
        created_at: token.createdAt,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async listTokens(): Promise<TokenRow[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select([
        'api_tokens.id',
        'users.name',
        'api_tokens.label',
        'api_tokens.created_at',
        'api_tokens.last_used_at',
      ])
      .orderBy('api_tokens.id')
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      user: row.name,
      label: row.label,
      createdAt: Number(row.created_at),
      lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    }));
  }

  async deleteToken(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /** The token's user, stamping `last_used_at`; undefined for an unknown hash. */
  async useToken(tokenHash: string, now: number): Promise<{ name: string; role: string } | undefined> {
    const row = await this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.id', 'users.name', 'users.role'])
      .where('api_tokens.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    await this.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
    return { name: row.name, role: row.role };
  }

  async findSetting(key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  /** Stores `value` unless the key already exists; returns the value that is stored afterwards. */
  async insertSettingOnce(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const stored = await this.findSetting(key);
    return stored ?? value;
  }
}

function toUser(row: {
  id: number;
  name: string;
  role: string;
  password_hash: string;
  created_at: number;
}): UserRow {
  return {
    id: Number(row.id),
    name: row.name,
    role: row.role,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at),
  };
}
