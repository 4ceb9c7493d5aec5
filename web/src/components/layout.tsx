// The frame around every page: navigation for the modules the server has, who is logged in.
import { useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { errorMessage } from '../api/client';
import { hasRole, useSession } from '../session';
import { ErrorNotice } from './status';

interface NavItem {
  to: string;
  label: string;
}

/** One entry per module page that exists; add a module's entry here when its pages land. */
const MODULE_NAV: Record<string, NavItem> = {
  ingest: { to: '/runs', label: 'Runs' },
  transfer: { to: '/transfer', label: 'Transfer' },
  audit: { to: '/audit', label: 'Audit' },
};

export function Layout() {
  const { meta, metaError, user, logout } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [logoutError, setLogoutError] = useState<string>();

  const items: NavItem[] = [
    ...(meta?.modules ?? []).flatMap((module) => {
      const item = MODULE_NAV[module];
      return item ? [item] : [];
    }),
    { to: '/alerts', label: 'Alerts' },
    ...(hasRole(user, 'admin') ? [{ to: '/users', label: 'Users & tokens' }] : []),
  ];

  const onLogout = async () => {
    setLogoutError(undefined);
    try {
      await logout();
      void navigate('/');
    } catch (e) {
      setLogoutError(errorMessage(e));
    }
  };

  const loginTarget = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;

  return (
    <div className="app">
      <header className="app-header">
        <Link to="/" className="brand">
          Custodian
        </Link>
        <nav className="app-nav" aria-label="Main">
          {items.map((item) => (
            <NavLink
              key={item.to}
              to={item.to}
              className={({ isActive }) => (isActive ? 'active' : undefined)}
            >
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="app-user">
          {user ? (
            <>
              <span className="app-user-name" data-testid="current-user">
                {user.name} <span className="role">{user.role}</span>
              </span>
              <button type="button" className="link-button" onClick={() => void onLogout()}>
                Log out
              </button>
            </>
          ) : (
            location.pathname !== '/login' && (
              <Link to={loginTarget} className="link-button">
                Log in
              </Link>
            )
          )}
        </div>
      </header>
      <main className="app-main">
        {metaError && <ErrorNotice title="The server could not be asked what it offers:" error={metaError} />}
        {logoutError && <ErrorNotice title="Logout failed:" error={logoutError} />}
        <Outlet />
      </main>
      <footer className="app-footer">Custodian {meta?.version ?? ''}</footer>
    </div>
  );
}
