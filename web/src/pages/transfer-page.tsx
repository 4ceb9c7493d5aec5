// Where the telescope's raw data stands: one card per stream and night, newest first, each
// expanding into its exposures × stages. Filters and open nights live in the URL, so a view can be
// shared and survives the 10 s refresh and the way back from an exposure's history.
import { Link, useLocation, useSearchParams } from 'react-router-dom';
import { transferApi } from '../api/client';
import type { NightSummary } from '../api/types';
import { useResource } from '../api/use-resource';
import { formatDateTime, plural } from '../components/format';
import { Empty, ErrorNotice, Loading } from '../components/status';
import { NightActions, VerifyAction } from '../components/transfer-actions';
import {
  NightBadge,
  STAGE_COLUMNS,
  StageCell,
  formatShortDateTime,
  sortExposures,
} from '../components/transfer-stage';
import { hasRole, useSession } from '../session';

export const TRANSFER_REFRESH_MS = 10_000;

const NIGHT_CHOICES = [
  { value: '7', label: 'last 7 nights' },
  { value: '10', label: 'last 10 nights' },
  { value: '30', label: 'last 30 nights' },
  { value: 'all', label: 'all nights' },
] as const;
const DEFAULT_NIGHTS = '10';

/** The "last N nights" choice in the URL, and the count the API takes (0 = all). */
export function nightsFromSearch(params: URLSearchParams): { value: string; count: number } {
  const value = params.get('nights');
  const choice = NIGHT_CHOICES.find((c) => c.value === value)?.value ?? DEFAULT_NIGHTS;
  return { value: choice, count: choice === 'all' ? 0 : Number(choice) };
}

export const nightKey = (stream: string, night: string) => `${stream}:${night}`;

/** Where an exposure's history lives; `from` is the list's query string to come back to. */
export function exposurePath(stream: string, night: string, exposure: string): string {
  return `/transfer/${encodeURIComponent(stream)}/${night}/${exposure}`;
}

function NightCard({
  summary,
  open,
  onToggle,
  canOperate,
  reload,
  from,
}: {
  summary: NightSummary;
  open: boolean;
  onToggle: () => void;
  canOperate: boolean;
  reload: () => void;
  from: string;
}) {
  const { stream, night, state } = summary;
  const bodyId = `night-${stream}-${night}`;
  const exposures = sortExposures(summary.exposures);
  return (
    <article className={`night night-${state}`} data-night={night} data-stream={stream} data-state={state}>
      <div className="night-header">
        <button
          type="button"
          className="night-toggle"
          aria-expanded={open}
          aria-controls={bodyId}
          aria-label={`Night ${night} of ${stream}`}
          onClick={onToggle}
        >
          <span className="night-caret" aria-hidden="true">
            {open ? '▾' : '▸'}
          </span>
          <span className="night-date">{night}</span>
        </button>
        <span className="night-stream">{stream}</span>
        <NightBadge state={state} />
        <span className="night-count" data-testid="night-exposures">
          {plural(exposures.length, 'exposure')}
        </span>
        <span className={summary.failed > 0 ? 'night-failed' : 'muted'} data-testid="night-failed">
          {summary.failed} failed
        </span>
        {summary.archived ? (
          <span className="badge badge-archived" data-testid="night-archived">
            archived
          </span>
        ) : (
          <span className="muted">not archived</span>
        )}
        <span className="night-times">
          <span title={formatDateTime(summary.catchupAt)}>
            catch-up {formatShortDateTime(summary.catchupAt)}
          </span>
          <span title={formatDateTime(summary.archiveAt)}>
            archive {formatShortDateTime(summary.archiveAt)}
          </span>
        </span>
      </div>
      {open && (
        <div className="night-body" id={bodyId}>
          {canOperate && <NightActions stream={stream} night={night} onDone={reload} />}
          <div className="table-wrap">
            <table className="table exposures-table">
              <caption className="sr-only">
                Exposures of night {night} ({stream}): latest attempt of each stage
              </caption>
              <thead>
                <tr>
                  <th scope="col">Exposure</th>
                  {STAGE_COLUMNS.map((stage) => (
                    <th scope="col" key={stage}>
                      {stage}
                    </th>
                  ))}
                  {canOperate && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {exposures.map((status) => (
                  <tr key={status.exposure} data-exposure={status.exposure}>
                    <th scope="row" className="exposure">
                      <Link to={exposurePath(stream, night, status.exposure)} state={{ from }}>
                        {status.exposure}
                      </Link>
                    </th>
                    {STAGE_COLUMNS.map((stage) => (
                      <StageCell key={stage} stage={stage} state={status[stage]} />
                    ))}
                    {canOperate && (
                      <td className="actions">
                        {status.publish?.ok && (
                          <VerifyAction
                            stream={stream}
                            night={night}
                            exposure={status.exposure}
                            onDone={reload}
                          />
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </article>
  );
}

export function TransferPage() {
  const { user } = useSession();
  const canOperate = hasRole(user, 'operator');
  const location = useLocation();
  const [params, setParams] = useSearchParams();
  const stream = params.get('stream') ?? '';
  const night = params.get('night') ?? '';
  const nights = nightsFromSearch(params);
  const open = new Set(params.getAll('open'));
  const query = { stream: stream || undefined, night: night || undefined, nights: nights.count };
  const status = useResource(
    transferApi.statusPath(query),
    (signal) => transferApi.status(query, { signal }),
    {
      refreshMs: TRANSFER_REFRESH_MS,
    },
  );

  const update = (change: (search: URLSearchParams) => void, replace = false) => {
    const search = new URLSearchParams(params);
    change(search);
    setParams(search, { replace });
  };
  const toggle = (key: string) =>
    update((search) => {
      const keys = search.getAll('open');
      search.delete('open');
      for (const k of keys) if (k !== key) search.append('open', k);
      if (!keys.includes(key)) search.append('open', key);
    }, true);

  const streams = status.data?.streams ?? [];
  const streamChoices = stream && !streams.includes(stream) ? [...streams, stream] : streams;

  const header = (
    <div className="page-header">
      <h1>Transfer</h1>
      <span className="live" title={`Refreshes every ${TRANSFER_REFRESH_MS / 1000} s`}>
        live
      </span>
      <div className="filters">
        <label>
          Stream{' '}
          <select
            value={stream}
            onChange={(event) =>
              update((search) => {
                if (event.target.value) search.set('stream', event.target.value);
                else search.delete('stream');
              })
            }
          >
            <option value="">all streams</option>
            {streamChoices.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Show{' '}
          <select
            value={nights.value}
            onChange={(event) => update((search) => search.set('nights', event.target.value))}
          >
            {NIGHT_CHOICES.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
        </label>
      </div>
    </div>
  );

  const nightFilter = night && (
    <p className="filter-note">
      Showing night {night} only.{' '}
      <button
        type="button"
        className="link-button"
        onClick={() => update((search) => search.delete('night'))}
      >
        Show all nights
      </button>
    </p>
  );

  if (!status.data) {
    return (
      <section>
        {header}
        {nightFilter}
        {status.error ? <ErrorNotice error={status.error} /> : <Loading what="Loading transfers" />}
      </section>
    );
  }

  // Newest first as the API sends them; the sort only keeps streams of one night in a fixed order.
  const list = [...status.data.nights].sort(
    (a, b) => b.night.localeCompare(a.night) || a.stream.localeCompare(b.stream),
  );
  return (
    <section>
      {header}
      {nightFilter}
      {status.error && <ErrorNotice title="Refresh failed:" error={status.error} />}
      {list.length === 0 ? (
        stream || night ? (
          <Empty>
            No transfers recorded for {stream || 'any stream'}
            {night ? ` on night ${night}` : ''}.
          </Empty>
        ) : (
          <div className="status status-empty">
            <p>No transfers recorded yet.</p>
            <p className="hint">
              Exposures show up here once <code>custodian transfer watch</code> (or{' '}
              <code>custodian transfer once</code>) has copied them from a stream&apos;s source.
            </p>
          </div>
        )
      ) : (
        <div className="nights">
          {list.map((summary) => {
            const key = nightKey(summary.stream, summary.night);
            return (
              <NightCard
                key={key}
                summary={summary}
                open={open.has(key)}
                onToggle={() => toggle(key)}
                canOperate={canOperate}
                reload={status.reload}
                from={location.search}
              />
            );
          })}
        </div>
      )}
    </section>
  );
}
