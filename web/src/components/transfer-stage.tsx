// The pieces every transfer view shares: a night's badge, one stage's cell, the short time format.
// State is always spelled out in text too, never by colour alone.
import type { ExposureStatus, NightState, Stage, StageState } from '../api/types';
import { formatDateTime } from './format';

/** The stage columns, in the order an exposure goes through them. */
export const STAGE_COLUMNS: readonly Stage[] = ['rsync', 'checksum', 'publish', 'backup'];

export const NIGHT_STATE_LABEL: Record<NightState, string> = {
  green: 'ok',
  yellow: 'in progress',
  red: 'failed',
};

export type CellState = 'ok' | 'failed' | 'none';

export function cellState(state: StageState | null): CellState {
  if (state === null) return 'none';
  return state.ok ? 'ok' : 'failed';
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "MM-DD HH:MM" in local time: enough to tell attempts of one night apart; the title has the rest. */
export function formatShortDateTime(value: string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '—';
  return `${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Exposures in numeric order. The API's numbers are fixed-width, where text order is the same,
 * but a number of another width must not land between 00000009 and 00000010.
 */
export function sortExposures<T extends Pick<ExposureStatus, 'exposure'>>(exposures: readonly T[]): T[] {
  return [...exposures].sort((a, b) => {
    const byNumber = Number(a.exposure) - Number(b.exposure);
    return Number.isNaN(byNumber) || byNumber === 0 ? a.exposure.localeCompare(b.exposure) : byNumber;
  });
}

export function NightBadge({ state }: { state: NightState }) {
  return (
    <span className={`badge night-badge night-badge-${state}`} data-state={state}>
      {NIGHT_STATE_LABEL[state]}
    </span>
  );
}

/** One stage of one exposure: when its latest attempt ran, and why it failed when it did. */
export function StageCell({ stage, state }: { stage: Stage; state: StageState | null }) {
  const kind = cellState(state);
  return (
    <td className={`stage-cell stage-${kind}`} data-stage={stage} data-state={kind}>
      {state === null ? (
        <span className="muted" title="No attempt recorded yet">
          —<span className="sr-only"> not yet</span>
        </span>
      ) : (
        <>
          <span className="stage-mark" aria-hidden="true">
            {state.ok ? '✓' : '✗'}
          </span>
          <span className="sr-only">{state.ok ? 'ok' : 'failed'}, </span>
          <time dateTime={state.at} title={formatDateTime(state.at)}>
            {formatShortDateTime(state.at)}
          </time>
          {!state.ok && state.message !== '' && <span className="stage-message">{state.message}</span>}
        </>
      )}
    </td>
  );
}
