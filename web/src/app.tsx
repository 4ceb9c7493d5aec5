import { BrowserRouter, Navigate, Route, Routes } from 'react-router-dom';
import { Layout } from './components/layout';
import { Loading } from './components/status';
import { AlertsPage } from './pages/alerts-page';
import { LoginPage } from './pages/login-page';
import { NotFoundPage } from './pages/not-found-page';
import { RunPage } from './pages/run-page';
import { RunsPage } from './pages/runs-page';
import { UsersPage } from './pages/users-page';
import { SessionProvider, useSession } from './session';

/** The first page: the first module's page, or alerts when no module is enabled. */
function Home() {
  const { meta, ready } = useSession();
  if (!ready) return <Loading />;
  return <Navigate to={meta?.modules.includes('ingest') ? '/runs' : '/alerts'} replace />;
}

export function App() {
  return (
    <SessionProvider>
      <BrowserRouter>
        <Routes>
          <Route element={<Layout />}>
            <Route index element={<Home />} />
            <Route path="login" element={<LoginPage />} />
            <Route path="alerts" element={<AlertsPage />} />
            <Route path="users" element={<UsersPage />} />
            <Route path="runs" element={<RunsPage />} />
            <Route path="runs/:run" element={<RunPage />} />
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </BrowserRouter>
    </SessionProvider>
  );
}
