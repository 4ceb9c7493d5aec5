import { BrowserRouter, Navigate, Route, Routes } from 'react-router-dom';
import { Layout } from './components/layout';
import { Loading } from './components/status';
import { AlertsPage } from './pages/alerts-page';
import { AuditPage } from './pages/audit-page';
import { AuditSitePage } from './pages/audit-site-page';
import { LoginPage } from './pages/login-page';
import { NotFoundPage } from './pages/not-found-page';
import { RunPage } from './pages/run-page';
import { RunsPage } from './pages/runs-page';
import { TransferExposurePage } from './pages/transfer-exposure-page';
import { TransferPage } from './pages/transfer-page';
import { UsersPage } from './pages/users-page';
import { SessionProvider, useSession } from './session';

/** Module start pages, in order of preference for the first page. */
const MODULE_HOME: [module: string, path: string][] = [
  ['ingest', '/runs'],
  ['transfer', '/transfer'],
  ['audit', '/audit'],
];

/** The first page: the first module's page, or alerts when no module is enabled. */
function Home() {
  const { meta, ready } = useSession();
  if (!ready) return <Loading />;
  const home = MODULE_HOME.find(([module]) => meta?.modules.includes(module));
  return <Navigate to={home?.[1] ?? '/alerts'} replace />;
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
            <Route path="transfer" element={<TransferPage />} />
            <Route path="transfer/:stream/:night/:exposure" element={<TransferExposurePage />} />
            <Route path="audit" element={<AuditPage />} />
            <Route path="audit/:site" element={<AuditSitePage />} />
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </BrowserRouter>
    </SessionProvider>
  );
}
