// The ingest runs, newest first. Refreshes every few seconds so runs arrive while you watch.
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { api, apiPath } from '../api/client';
import type { Page, RunSummary } from '../api/types';
import { useResource } from '../api/use-resource';
import { formatDateTime } from '../components/format';
import { Pagination, pageFromSearch, searchWithPage } from '../components/pagination';
import { Empty, ErrorNotice, Loading } from '../components/status';

export const LIVE_REFRESH_MS = 3000;

/** Subsystems that appear in any run of the page, in alphabetical order: one column each. */
export function subsystemsOf(runs: RunSummary[]): string[] {
  return [...new Set(runs.flatMap((run) => Object.keys(run.files)))].sort();
}

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const { offset, limit } = pageFromSearch(params);
  const query = { limit, offset };
  const runs = useResource(
    apiPath('/ingest/runs', query),
    (signal) => api.get<Page<RunSummary>>('/ingest/runs', query, { signal }),
    { refreshMs: LIVE_REFRESH_MS },
  );

  const header = (
    <div className="page-header">
      <h1>Runs</h1>
      <span className="live" title={`Refreshes every ${LIVE_REFRESH_MS / 1000} s`}>
        live
      </span>
    </div>
  );

  if (!runs.data) {
    return (
      <section>
        {header}
        {runs.error ? <ErrorNotice error={runs.error} /> : <Loading what="Loading runs" />}
      </section>
    );
  }

  const { items, total } = runs.data;
  const subsystems = subsystemsOf(items);
  return (
    <section>
      {header}
      {runs.error && <ErrorNotice title="Refresh failed:" error={runs.error} />}
      {total === 0 ? (
        <Empty>
          No runs yet. Files dropped into the ingest directory show up here as they are organized.
        </Empty>
      ) : items.length === 0 ? (
        <>
          <Empty>No runs on this page.</Empty>
          <Pagination
            offset={offset}
            limit={limit}
            total={total}
            onChange={(nextOffset, nextLimit) => setParams(searchWithPage(params, nextOffset, nextLimit))}
          />
        </>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table runs-table">
              <thead>
                <tr>
                  <th>Run</th>
                  <th>Mode</th>
                  <th>Start</th>
                  <th className="num">Length</th>
                  {subsystems.map((subsystem) => (
                    <th key={subsystem} className="num" data-subsystem={subsystem}>
                      {subsystem}
                    </th>
                  ))}
                  <th>Replay</th>
                </tr>
              </thead>
              <tbody>
                {items.map((run) => (
                  <tr
                    key={run.run}
                    className="clickable"
                    data-run={run.run}
                    onClick={() => void navigate(`/runs/${run.run}`)}
                  >
                    <td className="run">
                      <Link to={`/runs/${run.run}`} onClick={(event) => event.stopPropagation()}>
                        {run.run}
                      </Link>
                    </td>
                    <td>
                      <span className="mode">{run.mode}</span>
                    </td>
                    <td>{formatDateTime(run.firstFileAt)}</td>
                    <td className="num">{run.lengthMinutes} min</td>
                    {subsystems.map((subsystem) => (
                      <td key={subsystem} className="num" data-subsystem={subsystem}>
                        {run.files[subsystem] ?? <span className="muted">–</span>}
                      </td>
                    ))}
                    <td>{run.replay && <span className="badge badge-replay">replay</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination
            offset={offset}
            limit={limit}
            total={total}
            onChange={(nextOffset, nextLimit) => setParams(searchWithPage(params, nextOffset, nextLimit))}
          />
        </>
      )}
    </section>
  );
}
