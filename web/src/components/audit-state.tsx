// The pieces every audit view shares: a count's colour against its threshold, a site's status and
// mode badges, one run's cells. State is always spelled out in text too, never by colour alone, and
// every coloured cell carries `data-state` (ok | warn | bad | none).
import type { ReactNode } from 'react';
import type { AuditRun, RunOutcome, SiteMode, SiteStatus } from '../api/types';
import { formatBytes, formatDateTime } from './format';

export type Tone = 'ok' | 'warn' | 'bad' | 'none';

/** None is fine, some is worth a look, more than the threshold blocks any action. */
export function countTone(count: number, threshold: number): Tone {
  if (count <= 0) return 'ok';
  return count > threshold ? 'bad' : 'warn';
}

/** Something found at all is worth a look (size mismatches, unlisted directories). */
export function presenceTone(count: number): Tone {
  return count > 0 ? 'warn' : 'ok';
}

/** Over the threshold is `bad`: an alert was raised and nothing was marked for action. */
export function outcomeTone(outcome: RunOutcome): Tone {
  switch (outcome) {
    case 'ok':
      return 'ok';
    case 'halted':
      return 'warn';
    case 'over-threshold':
    case 'failed':
      return 'bad';
    case 'running':
      return 'none';
  }
}

export const OUTCOME_LABEL: Record<RunOutcome, string> = {
  running: 'running',
  ok: 'ok',
  'over-threshold': 'over threshold',
  halted: 'halted',
  failed: 'failed',
};

export const MODE_LABEL: Record<SiteMode, string> = { dry: 'dry run', act: 'act' };

/** "45 s", "3 min 20 s", "2 h 05 min": a listing of a big site takes hours. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${String(total % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

const COUNT = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return COUNT.format(n);
}

export function SiteStatusBadge({ status, haltRequested }: { status: SiteStatus; haltRequested: boolean }) {
  return (
    <span
      className={`badge audit-status audit-status-${status}`}
      data-testid="site-status"
      data-status={status}
      title={haltRequested ? 'A halt was requested: the audit stops at the next directory.' : undefined}
    >
      {status}
      {haltRequested && status === 'running' ? ' (halt requested)' : ''}
    </span>
  );
}

export function SiteModeBadge({ mode }: { mode: SiteMode }) {
  return (
    <span
      className={`badge audit-mode audit-mode-${mode}`}
      data-testid="site-mode"
      data-mode={mode}
      title={
        mode === 'act' ? 'Lists within the thresholds are for action' : 'Report only: nothing is for action'
      }
    >
      {MODE_LABEL[mode]}
    </span>
  );
}

function ToneCell({
  column,
  tone,
  title,
  numeric = true,
  children,
}: {
  column: string;
  tone: Tone;
  title?: string;
  numeric?: boolean;
  children: ReactNode;
}) {
  return (
    <td
      className={`${numeric ? 'num ' : ''}audit-cell audit-${tone}`}
      data-column={column}
      data-state={tone}
      title={title}
    >
      {children}
    </td>
  );
}

function CountBytes({ count, bytes }: { count: number; bytes: number }) {
  return (
    <>
      <span className="audit-count">{formatCount(count)}</span>
      {count > 0 && (
        <>
          {' '}
          <span className="audit-bytes">{formatBytes(bytes)}</span>
        </>
      )}
    </>
  );
}

/** The column headings that go with RunCells. */
export const RUN_COLUMNS = [
  'Outcome',
  'Duration',
  'Files',
  'Directories',
  'Missing',
  'Orphans',
  'Size mismatches',
  'Empty dirs',
  'Unlisted',
] as const;

/** One run's outcome, duration and counts, coloured against the site's thresholds. */
export function RunCells({
  run,
  maxMissing,
  maxOrphans,
}: {
  run: AuditRun;
  maxMissing: number;
  maxOrphans: number;
}) {
  return (
    <>
      <ToneCell
        column="outcome"
        tone={outcomeTone(run.outcome)}
        title={run.message ?? undefined}
        numeric={false}
      >
        {OUTCOME_LABEL[run.outcome]}
      </ToneCell>
      <td className="num" data-column="duration">
        {run.outcome === 'running' ? '…' : formatDuration(run.durationSeconds)}
      </td>
      <td className="num" data-column="files">
        {formatCount(run.files)}
      </td>
      <td className="num" data-column="directories">
        {formatCount(run.directories)}
      </td>
      <ToneCell
        column="missing"
        tone={countTone(run.missing, maxMissing)}
        title={`threshold ${formatCount(maxMissing)}`}
      >
        <CountBytes count={run.missing} bytes={run.missingBytes} />
      </ToneCell>
      <ToneCell
        column="orphans"
        tone={countTone(run.orphans, maxOrphans)}
        title={`threshold ${formatCount(maxOrphans)}`}
      >
        <CountBytes count={run.orphans} bytes={run.orphanBytes} />
      </ToneCell>
      <ToneCell column="size-mismatches" tone={presenceTone(run.sizeMismatches)}>
        {formatCount(run.sizeMismatches)}
      </ToneCell>
      <td className="num" data-column="empty-dirs">
        {formatCount(run.emptyDirs)}
      </td>
      <ToneCell column="unlisted" tone={presenceTone(run.unlisted)}>
        {formatCount(run.unlisted)}
      </ToneCell>
    </>
  );
}

/** When a run started; the date and the time may break onto two lines in a narrow column. */
export function RunTime({ at }: { at: string }) {
  const [date, time] = formatDateTime(at).split(' ');
  return (
    <time dateTime={at} className="audit-time">
      <span>{date}</span> <span>{time}</span>
    </time>
  );
}
