/** Roles in increasing order of power: viewer < operator < admin. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function hasRole(actual: Role, required: Role): boolean {
  return ROLES.indexOf(actual) >= ROLES.indexOf(required);
}

/** Who is making a request, once authenticated by session cookie or bearer token. */
export interface AuthenticatedUser {
  name: string;
  role: Role;
  via: 'session' | 'token';
}
