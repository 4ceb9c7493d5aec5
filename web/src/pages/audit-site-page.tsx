// One storage site: its status and mode (operators change them here), missing and orphan counts
// over its runs, every run newest first, the directories its latest run could not list, and the
// lists themselves. The open list lives in the URL, so a view can be shared and survives a reload.
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { auditApi } from '../api/client';
import { useResource } from '../api/use-resource';
import { SiteStatusActions } from '../components/audit-actions';
import { AuditChart } from '../components/audit-chart';
import { EntryTabs, entryTab } from '../components/audit-entries';
import {
  RUN_COLUMNS,
  RunCells,
  RunTime,
  SiteModeBadge,
  SiteStatusBadge,
  formatCount,
} from '../components/audit-state';
import { formatDateTime } from '../components/format';
import { Empty, ErrorNotice, Loading } from '../components/status';
import { hasRole, useSession } from '../session';
import { AUDIT_REFRESH_MS } from './audit-page';

export function AuditSitePage() {
  const { site = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const { user } = useSession();
  const canOperate = hasRole(user, 'operator');
  const tab = entryTab(params.get('list'));
  const report = useResource(auditApi.sitePath(site), (signal) => auditApi.site(site, { signal }), {
    refreshMs: AUDIT_REFRESH_MS,
  });
  const data = report.data;

  const heading = (
    <>
      <Link to="/audit" className="back">
        ← Audit
      </Link>
      <div className="page-header">
        <h1>{site}</h1>
        {data && <SiteStatusBadge status={data.status} haltRequested={data.haltRequested} />}
        {data && <SiteModeBadge mode={data.mode} />}
        <span className="live" title={`Refreshes every ${AUDIT_REFRESH_MS / 1000} s`}>
          live
        </span>
      </div>
    </>
  );

  if (!data) {
    return (
      <section>
        {heading}
        {report.error ? <ErrorNotice error={report.error} /> : <Loading what="Loading site" />}
      </section>
    );
  }

  const latest = data.runs.find((run) => run.outcome !== 'running') ?? null;
  const selectList = (kind: string) => {
    const search = new URLSearchParams(params);
    search.set('list', kind);
    setParams(search, { replace: true });
  };

  return (
    <section>
      {heading}
      {report.error && <ErrorNotice title="Refresh failed:" error={report.error} />}
      <dl className="facts">
        <div>
          <dt>Storage</dt>
          <dd className="code" data-testid="site-storage">
            {data.storage}
          </dd>
        </div>
        <div>
          <dt>Last run</dt>
          <dd>{formatDateTime(data.lastRun?.startedAt)}</dd>
        </div>
        <div>
          <dt>Missing threshold</dt>
          <dd>{formatCount(data.maxMissing)}</dd>
        </div>
        <div>
          <dt>Orphan threshold</dt>
          <dd>{formatCount(data.maxOrphans)}</dd>
        </div>
      </dl>
      {canOperate && <SiteStatusActions site={data} onDone={report.reload} />}
      {data.lastRun?.message && (
        <div
          className={`notice ${data.lastRun.outcome === 'ok' ? 'notice-ok' : 'notice-warn'}`}
          data-testid="last-run-message"
        >
          <strong>Latest run: </strong>
          {data.lastRun.message}
        </div>
      )}

      <h2>Missing and orphans over time</h2>
      <AuditChart runs={data.runs} />

      <h2>Runs</h2>
      {data.runs.length === 0 ? (
        <Empty>
          Not audited yet. <code>custodian audit run --site {site}</code> (or Run now) lists it and compares.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table audit-runs-table">
            <caption className="sr-only">Audits of {site}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Started</th>
                {RUN_COLUMNS.map((column) => (
                  <th scope="col" key={column} className={column === 'Outcome' ? undefined : 'num'}>
                    {column}
                  </th>
                ))}
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {data.runs.map((run) => (
                <tr key={run.id} data-run={run.id} data-outcome={run.outcome}>
                  <td className="audit-when">
                    <RunTime at={run.startedAt} />
                  </td>
                  <RunCells run={run} maxMissing={data.maxMissing} maxOrphans={data.maxOrphans} />
                  <td className="message">{run.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Unlisted directories</h2>
      {data.unlistedDirectories.length === 0 ? (
        <Empty>
          {latest ? 'Every directory of the latest run was listed.' : 'No run has listed the site yet.'}
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table audit-unlisted-table">
            <caption className="sr-only">
              Directories the latest run could not list: nothing at or below them is reported
            </caption>
            <thead>
              <tr>
                <th scope="col">Directory</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {data.unlistedDirectories.map((dir) => (
                <tr key={dir.path} data-path={dir.path}>
                  <td className="path">{dir.path}</td>
                  <td className="message">{dir.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Lists of the latest run</h2>
      <EntryTabs
        site={site}
        mode={data.mode}
        latest={latest}
        selected={tab}
        onSelect={selectList}
        canOperate={canOperate}
      />
    </section>
  );
}
