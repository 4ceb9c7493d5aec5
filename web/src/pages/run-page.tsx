// One run: its facts, a timeline of its files per subsystem, and the files themselves.
import { Link, useParams } from 'react-router-dom';
import { api, apiPath } from '../api/client';
import type { RunDetail } from '../api/types';
import { useResource } from '../api/use-resource';
import { formatBytes, formatDateTime, formatUnixSeconds, plural } from '../components/format';
import { ErrorNotice, Loading } from '../components/status';
import { Timeline } from '../components/timeline';
import { LIVE_REFRESH_MS } from './runs-page';

export function RunPage() {
  const { run = '' } = useParams();
  const path = `/ingest/runs/${encodeURIComponent(run)}`;
  const detail = useResource(apiPath(path), (signal) => api.get<RunDetail>(path, undefined, { signal }), {
    refreshMs: LIVE_REFRESH_MS,
  });

  const back = (
    <Link to="/runs" className="back">
      ← All runs
    </Link>
  );

  if (!detail.data) {
    return (
      <section>
        {back}
        <h1>Run {run}</h1>
        {detail.error ? <ErrorNotice error={detail.error} /> : <Loading what="Loading run" />}
      </section>
    );
  }

  const data = detail.data;
  const names = Object.keys(data.subsystems).sort();
  const files = names
    .flatMap((subsystem) => (data.subsystems[subsystem] ?? []).map((file) => ({ ...file, subsystem })))
    .sort((a, b) => a.timestamp - b.timestamp || a.subsystem.localeCompare(b.subsystem));
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);

  return (
    <section>
      {back}
      <div className="page-header">
        <h1>Run {data.run}</h1>
        {data.replay && <span className="badge badge-replay">replay</span>}
        <span className="live" title={`Refreshes every ${LIVE_REFRESH_MS / 1000} s`}>
          live
        </span>
      </div>
      {detail.error && <ErrorNotice title="Refresh failed:" error={detail.error} />}
      <dl className="facts">
        <div>
          <dt>Mode</dt>
          <dd>{data.mode}</dd>
        </div>
        <div>
          <dt>Start</dt>
          <dd>{formatDateTime(data.firstFileAt)}</dd>
        </div>
        <div>
          <dt>Last file</dt>
          <dd>{formatDateTime(data.lastFileAt)}</dd>
        </div>
        <div>
          <dt>Length</dt>
          <dd>{data.lengthMinutes} min</dd>
        </div>
        <div>
          <dt>Files</dt>
          <dd>
            {files.length} ({formatBytes(totalBytes)})
          </dd>
        </div>
        {names.map((name) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{plural(data.files[name] ?? data.subsystems[name]?.length ?? 0, 'file')}</dd>
          </div>
        ))}
      </dl>

      <h2>Timeline</h2>
      <Timeline subsystems={data.subsystems} />

      <h2>Files</h2>
      <div className="table-wrap">
        <table className="table files-table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Subsystem</th>
              <th className="num">Size</th>
              <th>Path</th>
            </tr>
          </thead>
          <tbody>
            {files.map((file) => (
              <tr key={`${file.subsystem}-${file.path}-${file.timestamp}`}>
                <td>{formatUnixSeconds(file.timestamp)}</td>
                <td>{file.subsystem}</td>
                <td className="num">{formatBytes(file.size)}</td>
                <td className="path">{file.path}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
