// Every audited storage site on one table: its status and mode, and what its latest run found,
// coloured against the site's thresholds (missing and orphans: none ok, some warn, more than the
// threshold bad). Refreshes every 10 s, so a running audit's end shows up while you watch.
import { Link } from 'react-router-dom';
import { auditApi } from '../api/client';
import type { SiteSummary } from '../api/types';
import { useResource } from '../api/use-resource';
import { RunAuditAction } from '../components/audit-actions';
import { RUN_COLUMNS, RunCells, RunTime, SiteModeBadge, SiteStatusBadge } from '../components/audit-state';
import { ErrorNotice, Loading } from '../components/status';
import { hasRole, useSession } from '../session';

export const AUDIT_REFRESH_MS = 10_000;

export const sitePath = (site: string) => `/audit/${encodeURIComponent(site)}`;

function SiteRow({
  site,
  canOperate,
  reload,
}: {
  site: SiteSummary;
  canOperate: boolean;
  reload: () => void;
}) {
  const run = site.lastRun;
  return (
    <tr data-site={site.name} data-status={site.status}>
      <th scope="row" className="audit-site">
        <Link to={sitePath(site.name)} title={site.storage}>
          {site.name}
        </Link>
      </th>
      <td>
        <SiteStatusBadge status={site.status} haltRequested={site.haltRequested} />
      </td>
      <td>
        <SiteModeBadge mode={site.mode} />
      </td>
      {run === null ? (
        <td colSpan={RUN_COLUMNS.length + 1} className="muted" data-column="last-run">
          never audited
        </td>
      ) : (
        <>
          <td className="audit-when" data-column="last-run">
            <RunTime at={run.startedAt} />
          </td>
          <RunCells run={run} maxMissing={site.maxMissing} maxOrphans={site.maxOrphans} />
        </>
      )}
      {canOperate && (
        <td className="actions">
          <RunAuditAction site={site.name} disabled={site.status !== 'ready'} onDone={reload} />
        </td>
      )}
    </tr>
  );
}

export function AuditPage() {
  const { user } = useSession();
  const canOperate = hasRole(user, 'operator');
  const sites = useResource(auditApi.sitesPath(), (signal) => auditApi.sites({ signal }), {
    refreshMs: AUDIT_REFRESH_MS,
  });

  const header = (
    <div className="page-header">
      <h1>Audit</h1>
      <span className="live" title={`Refreshes every ${AUDIT_REFRESH_MS / 1000} s`}>
        live
      </span>
      {canOperate && sites.data && sites.data.sites.length > 0 && (
        <div className="audit-header-actions">
          <RunAuditAction onDone={sites.reload} />
        </div>
      )}
    </div>
  );

  if (!sites.data) {
    return (
      <section>
        {header}
        {sites.error ? <ErrorNotice error={sites.error} /> : <Loading what="Loading sites" />}
      </section>
    );
  }

  const list = [...sites.data.sites].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section>
      {header}
      {sites.error && <ErrorNotice title="Refresh failed:" error={sites.error} />}
      {list.length === 0 ? (
        <div className="status status-empty">
          <p>No storage site is configured.</p>
          <p className="hint">
            Sites are listed in the <code>audit:</code> section of the configuration; each shows up here once
            configured, and its counts after <code>custodian audit run</code> has audited it.
          </p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="table audit-sites-table">
            <caption className="sr-only">
              Storage sites and what their latest audit found, coloured against the thresholds
            </caption>
            <thead>
              <tr>
                <th scope="col">Site</th>
                <th scope="col">Status</th>
                <th scope="col">Mode</th>
                <th scope="col">Last run</th>
                {RUN_COLUMNS.map((column) => (
                  <th scope="col" key={column} className={column === 'Outcome' ? undefined : 'num'}>
                    {column}
                  </th>
                ))}
                {canOperate && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {list.map((site) => (
                <SiteRow key={site.name} site={site} canOperate={canOperate} reload={sites.reload} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
