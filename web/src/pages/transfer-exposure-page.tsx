// One exposure: the latest state of each stage and every attempt that led there, oldest first.
import { Link, useLocation, useParams } from 'react-router-dom';
import { transferApi } from '../api/client';
import { useResource } from '../api/use-resource';
import { formatDateTime } from '../components/format';
import { Empty, ErrorNotice, Loading } from '../components/status';
import { VerifyAction } from '../components/transfer-actions';
import { STAGE_COLUMNS, StageCell, cellState } from '../components/transfer-stage';
import { hasRole, useSession } from '../session';
import { TRANSFER_REFRESH_MS, nightKey } from './transfer-page';

/** The list the user came from, else the exposure's night, opened. */
function backTarget(state: unknown, stream: string, night: string): string {
  if (typeof state === 'object' && state !== null && 'from' in state && typeof state.from === 'string') {
    return `/transfer${state.from}`;
  }
  const search = new URLSearchParams({ stream, night, open: nightKey(stream, night) });
  return `/transfer?${search.toString()}`;
}

export function TransferExposurePage() {
  const { stream = '', night = '', exposure = '' } = useParams();
  const location = useLocation();
  const { user } = useSession();
  const canOperate = hasRole(user, 'operator');
  const detail = useResource(
    transferApi.exposurePath(stream, night, exposure),
    (signal) => transferApi.exposure(stream, night, exposure, { signal }),
    { refreshMs: TRANSFER_REFRESH_MS },
  );

  const heading = (
    <>
      <Link to={backTarget(location.state, stream, night)} className="back">
        ← Transfer
      </Link>
      <div className="page-header">
        <h1>Exposure {exposure}</h1>
        <span className="muted">
          night {night} · {stream}
        </span>
        <span className="live" title={`Refreshes every ${TRANSFER_REFRESH_MS / 1000} s`}>
          live
        </span>
      </div>
    </>
  );

  if (!detail.data) {
    return (
      <section>
        {heading}
        {detail.error ? <ErrorNotice error={detail.error} /> : <Loading what="Loading exposure" />}
      </section>
    );
  }

  const data = detail.data;
  return (
    <section>
      {heading}
      {detail.error && <ErrorNotice title="Refresh failed:" error={detail.error} />}
      <h2>Latest attempts</h2>
      <div className="table-wrap">
        <table className="table exposures-table">
          <thead>
            <tr>
              <th scope="col">Exposure</th>
              {STAGE_COLUMNS.map((stage) => (
                <th scope="col" key={stage}>
                  {stage}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr data-exposure={data.exposure}>
              <th scope="row" className="exposure">
                {data.exposure}
              </th>
              {STAGE_COLUMNS.map((stage) => (
                <StageCell key={stage} stage={stage} state={data[stage]} />
              ))}
            </tr>
          </tbody>
        </table>
      </div>
      {canOperate && data.publish?.ok && (
        <div className="exposure-actions">
          <VerifyAction stream={stream} night={night} exposure={exposure} onDone={detail.reload} />
        </div>
      )}

      <h2>History</h2>
      {data.history.length === 0 ? (
        <Empty>No attempt recorded for this exposure.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table history-table">
            <caption className="sr-only">Every attempt of exposure {exposure}, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Stage</th>
                <th scope="col">Result</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {data.history.map((attempt, i) => {
                const state = cellState(attempt);
                return (
                  <tr key={i} data-stage={attempt.stage} data-state={state}>
                    <td>
                      <time dateTime={attempt.at}>{formatDateTime(attempt.at)}</time>
                    </td>
                    <td>{attempt.stage}</td>
                    <td className={`stage-${state}`}>{attempt.ok ? '✓ ok' : '✗ failed'}</td>
                    <td className="message">{attempt.message}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
