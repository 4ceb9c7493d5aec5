// Who is looking at the dashboard and what the server offers: GET /meta and /auth/me once at
// start, updated by login and logout. Pages read it to decide which links and buttons to show;
// the server still checks every write.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from './api/client';
import type { LoginResponse, MeResponse, Meta, Role, User } from './api/types';

export interface Session {
  meta: Meta | undefined;
  metaError: Error | undefined;
  user: User | null;
  /** False until /meta and /auth/me have both answered (or failed). */
  ready: boolean;
  login: (username: string, password: string) => Promise<User>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<Session | undefined>(undefined);

const rank: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function hasRole(user: User | null, role: Role): boolean {
  return user !== null && rank[user.role] >= rank[role];
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [meta, setMeta] = useState<Meta>();
  const [metaError, setMetaError] = useState<Error>();
  const [user, setUser] = useState<User | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    const loadMeta = api.get<Meta>('/meta', undefined, { signal }).then(setMeta, (e: unknown) => {
      if (!signal.aborted) setMetaError(e instanceof Error ? e : new Error(String(e)));
    });
    // An unreadable /auth/me means nobody is logged in as far as the page can tell.
    const loadMe = api.get<MeResponse>('/auth/me', undefined, { signal }).then(
      (me) => setUser(me.user),
      () => setUser(null),
    );
    void Promise.all([loadMeta, loadMe]).then(() => {
      if (!signal.aborted) setReady(true);
    });
    return () => controller.abort();
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const response = await api.post<LoginResponse>('/auth/login', { username, password });
    setUser(response.user);
    return response.user;
  }, []);

  const logout = useCallback(async () => {
    await api.post('/auth/logout');
    setUser(null);
  }, []);

  const value = useMemo(
    () => ({ meta, metaError, user, ready, login, logout }),
    [meta, metaError, user, ready, login, logout],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession must be used inside <SessionProvider>');
  return session;
}
