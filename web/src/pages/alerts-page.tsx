// Stored alerts, active ones first in mind: operators resolve them here once the cause is fixed.
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { api, apiPath, errorMessage } from '../api/client';
import type { Alert, AlertState, Page } from '../api/types';
import { useResource } from '../api/use-resource';
import { formatDateTime } from '../components/format';
import { Pagination, pageFromSearch, searchWithPage } from '../components/pagination';
import { Empty, ErrorNotice, Loading } from '../components/status';
import { hasRole, useSession } from '../session';

const STATES: { value: AlertState; label: string }[] = [
  { value: 'active', label: 'Active' },
  { value: 'resolved', label: 'Resolved' },
  { value: 'all', label: 'All' },
];

const ALERTS_REFRESH_MS = 10_000;

function stateFromSearch(params: URLSearchParams): AlertState {
  const value = params.get('state');
  return value === 'resolved' || value === 'all' ? value : 'active';
}

export function AlertsPage() {
  const { user } = useSession();
  const canResolve = hasRole(user, 'operator');
  const [params, setParams] = useSearchParams();
  const state = stateFromSearch(params);
  const { offset, limit } = pageFromSearch(params, 50);
  const query = { state, limit, offset };
  const alerts = useResource(
    apiPath('/alerts', query),
    (signal) => api.get<Page<Alert>>('/alerts', query, { signal }),
    { refreshMs: ALERTS_REFRESH_MS },
  );
  const [resolving, setResolving] = useState<string>();
  const [actionError, setActionError] = useState<string>();

  const setState = (next: AlertState) => {
    const search = new URLSearchParams(params);
    search.set('state', next);
    search.delete('page');
    setParams(search);
  };

  const resolve = async (alert: Alert) => {
    const id = String(alert.id);
    setResolving(id);
    setActionError(undefined);
    try {
      await api.post<Alert>(`/alerts/${encodeURIComponent(id)}/resolve`);
      alerts.reload();
    } catch (e) {
      setActionError(`Could not resolve ${alert.code}: ${errorMessage(e)}`);
    } finally {
      setResolving(undefined);
    }
  };

  return (
    <section>
      <div className="page-header">
        <h1>Alerts</h1>
        <div className="segmented" role="group" aria-label="Alert state">
          {STATES.map((option) => (
            <button
              key={option.value}
              type="button"
              aria-pressed={state === option.value}
              onClick={() => setState(option.value)}
            >
              {option.label}
            </button>
          ))}
        </div>
      </div>
      {actionError && <ErrorNotice error={actionError} />}
      {!alerts.data ? (
        alerts.error ? (
          <ErrorNotice error={alerts.error} />
        ) : (
          <Loading what="Loading alerts" />
        )
      ) : (
        <>
          {alerts.error && <ErrorNotice title="Refresh failed:" error={alerts.error} />}
          {alerts.data.items.length === 0 ? (
            <Empty>{state === 'active' ? 'No active alerts. All is well.' : 'No alerts here.'}</Empty>
          ) : (
            <div className="table-wrap">
              <table className="table alerts-table">
                <thead>
                  <tr>
                    <th>Severity</th>
                    <th>Code</th>
                    <th>Message</th>
                    <th className="num">Count</th>
                    <th>First seen</th>
                    <th>Last seen</th>
                    <th>State</th>
                    {canResolve && <th aria-label="Actions" />}
                  </tr>
                </thead>
                <tbody>
                  {alerts.data.items.map((alert) => (
                    <tr key={alert.id} data-alert={alert.code}>
                      <td>
                        <span className={`badge severity-${alert.severity}`}>{alert.severity}</span>
                      </td>
                      <td className="code">{alert.code}</td>
                      <td className="message">{alert.message}</td>
                      <td className="num">{alert.count}</td>
                      <td>{formatDateTime(alert.firstAt)}</td>
                      <td>{formatDateTime(alert.lastAt)}</td>
                      <td>
                        {alert.resolvedAt ? (
                          <span className="muted">resolved {formatDateTime(alert.resolvedAt)}</span>
                        ) : (
                          <span className="state-active">active</span>
                        )}
                      </td>
                      {canResolve && (
                        <td>
                          {!alert.resolvedAt && (
                            <button
                              type="button"
                              disabled={resolving === String(alert.id)}
                              onClick={() => void resolve(alert)}
                            >
                              Resolve
                            </button>
                          )}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {alerts.data.total > 0 && (
            <Pagination
              offset={offset}
              limit={limit}
              total={alerts.data.total}
              onChange={(nextOffset, nextLimit) => setParams(searchWithPage(params, nextOffset, nextLimit))}
            />
          )}
        </>
      )}
    </section>
  );
}
