import type { Generated } from 'kysely';

/** Tables of core/auth (snake_case; times are unix milliseconds UTC). */
export interface UsersTable {
  id: Generated<number>;
  name: string;
  /** One of ROLES (viewer, operator, admin). */
  role: string;
  /** `scrypt$N$r$p$salt$hash`, see password.ts. */
  password_hash: string;
  created_at: number;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  label: string;
  /** sha256 (hex) of the token; the token itself is shown once and never stored. */
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
}

/** Small process-wide values, e.g. the cookie secret. */
export interface SettingsTable {
  key: string;
  value: string;
}

export interface AuthTables {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  settings: SettingsTable;
}
