// Operator actions of the audit pages: queue an audit, set a site's status or mode, record that a
// list was acted on. Each shows what the API answered (the result, or its own error message, such
// as why a list is not for action) right where it was asked.
import { useState } from 'react';
import { auditApi, errorMessage } from '../api/client';
import type { EntryKind, SiteSummary, StatusAction } from '../api/types';
import { MODE_LABEL } from './audit-state';
import { formatDateTime } from './format';

type ActionState =
  | { kind: 'idle' }
  | { kind: 'busy' }
  | { kind: 'done'; message: string }
  | { kind: 'error'; message: string };

/** Runs one API call at a time and keeps what came back (or the error) for display. */
function useAction(onDone: () => void) {
  const [state, setState] = useState<ActionState>({ kind: 'idle' });
  const run = async (call: () => Promise<string>) => {
    setState({ kind: 'busy' });
    try {
      setState({ kind: 'done', message: await call() });
      onDone();
    } catch (e) {
      setState({ kind: 'error', message: errorMessage(e) });
    }
  };
  return { state, run };
}

function ActionOutcome({ state, failedTitle }: { state: ActionState; failedTitle: string }) {
  if (state.kind === 'error') {
    return (
      <div className="notice notice-error action-outcome" role="alert">
        <strong>{failedTitle} </strong>
        {state.message}
      </div>
    );
  }
  if (state.kind === 'done') {
    return (
      <div className="notice notice-ok action-outcome" role="status">
        {state.message}
      </div>
    );
  }
  return null;
}

/** "Run now": queues an audit of `site`, or (without one) of the site the picking rule chooses. */
export function RunAuditAction({
  site,
  disabled = false,
  onDone,
}: {
  site?: string;
  disabled?: boolean;
  onDone: () => void;
}) {
  const { state, run } = useAction(onDone);
  const queue = () =>
    run(async () => {
      const { queued } = await auditApi.run(site);
      return `Audit of ${queued} queued.`;
    });
  return (
    <div className="audit-run-action">
      <button
        type="button"
        aria-label={site === undefined ? 'Run the next site' : `Run now ${site}`}
        title={disabled ? 'Only a ready site is audited: set it ready first' : undefined}
        disabled={disabled || state.kind === 'busy'}
        onClick={() => void queue()}
      >
        {site === undefined ? 'Run next site' : 'Run now'}
      </button>
      <ActionOutcome state={state} failedTitle="Not queued:" />
    </div>
  );
}

const STATUS_BUTTONS: { action: StatusAction; label: string; title: string }[] = [
  { action: 'ready', label: 'Ready', title: 'Let the scheduler pick this site again' },
  {
    action: 'halt',
    label: 'Halt',
    title: 'Stop a running audit at the next directory; pick the site no more',
  },
  { action: 'disable', label: 'Disable', title: 'Take the site out of the schedule' },
];

const MODE_BUTTONS: { action: StatusAction & SiteSummary['mode']; label: string; title: string }[] = [
  { action: 'dry', label: 'Dry run', title: 'Report only: no list is for action' },
  { action: 'act', label: 'Act', title: 'Lists within the thresholds are for action' },
];

/** Whether the action would change nothing (the site is already there). */
function isCurrent(site: SiteSummary, action: StatusAction): boolean {
  switch (action) {
    case 'ready':
      return site.status === 'ready';
    case 'halt':
      return site.status === 'halted' || site.haltRequested;
    case 'disable':
      return site.status === 'disabled';
    case 'act':
    case 'dry':
      return site.mode === action;
  }
}

/** Status (ready / halt / disable) and mode (dry / act) of one site. */
export function SiteStatusActions({ site, onDone }: { site: SiteSummary; onDone: () => void }) {
  const { state, run } = useAction(onDone);
  const busy = state.kind === 'busy';
  const set = (action: StatusAction) =>
    run(async () => {
      const now = await auditApi.setStatus(site.name, action);
      const halt = now.haltRequested && now.status === 'running' ? ' (halt requested)' : '';
      return `${now.name} is now ${now.status}${halt}, ${MODE_LABEL[now.mode]}.`;
    });
  return (
    <div className="audit-actions">
      <div className="audit-actions-row">
        <div className="segmented" role="group" aria-label="Site status">
          {STATUS_BUTTONS.map(({ action, label, title }) => (
            <button
              key={action}
              type="button"
              title={title}
              aria-pressed={isCurrent(site, action)}
              disabled={busy || isCurrent(site, action)}
              onClick={() => void set(action)}
            >
              {label}
            </button>
          ))}
        </div>
        <div className="segmented" role="group" aria-label="Site mode">
          {MODE_BUTTONS.map(({ action, label, title }) => (
            <button
              key={action}
              type="button"
              title={title}
              aria-pressed={isCurrent(site, action)}
              disabled={busy || isCurrent(site, action)}
              onClick={() => void set(action)}
            >
              {label}
            </button>
          ))}
        </div>
        <RunAuditAction site={site.name} disabled={site.status !== 'ready'} onDone={onDone} />
      </div>
      <ActionOutcome state={state} failedTitle="Status not changed:" />
    </div>
  );
}

/**
 * "Mark acted": records that the caller acted on the list (as the deletion and retransfer tools do
 * with `--acting`). The API refuses (409) a list that is not for action and says why.
 */
export function MarkActedAction({
  site,
  kind,
  onDone,
}: {
  site: string;
  kind: EntryKind;
  onDone: () => void;
}) {
  const { state, run } = useAction(onDone);
  const mark = () =>
    run(async () => {
      const list = await auditApi.markActed(site, kind);
      const count = list.entries.length;
      return `Marked acted at ${formatDateTime(list.actedAt)}: ${count} ${count === 1 ? 'entry' : 'entries'}.`;
    });
  return (
    <div className="audit-mark-acted">
      <button type="button" disabled={state.kind === 'busy'} onClick={() => void mark()}>
        Mark acted
      </button>
      <ActionOutcome state={state} failedTitle="Not marked:" />
    </div>
  );
}
