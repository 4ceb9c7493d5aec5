// Operator actions of the transfer pages: verify one exposure again, catch up or archive a night.
// Each shows what the API answered (the result, or its error message) right where it was asked.
import { useState } from 'react';
import { errorMessage, transferApi } from '../api/client';
import type { ArchiveResult, CatchupResult, VerifyResult } from '../api/types';
import { formatBytes, plural } from './format';

export interface Outcome {
  ok: boolean;
  title: string;
  details: string[];
}

/** At most a few names, then how many more: results can list thousands of files. */
function names(list: readonly string[], max = 3): string {
  const shown = list.slice(0, max).join(', ');
  return list.length > max ? `${shown} and ${list.length - max} more` : shown;
}

export function describeVerify(exposure: string, result: VerifyResult): Outcome {
  if (result.ok) {
    return {
      ok: true,
      title: `Checksums of ${exposure} match: ${plural(result.verified, 'file')} (${formatBytes(result.bytes)}) verified.`,
      details: [],
    };
  }
  const details: string[] = [];
  if (result.mismatched.length > 0)
    details.push(`${result.mismatched.length} mismatched: ${names(result.mismatched)}`);
  if (result.missing.length > 0) details.push(`${result.missing.length} missing: ${names(result.missing)}`);
  if (result.unlisted.length > 0)
    details.push(`${result.unlisted.length} not in the manifest: ${names(result.unlisted)}`);
  for (const line of result.malformed.slice(0, 3)) {
    details.push(line.line === 0 ? `manifest: ${line.text}` : `manifest line ${line.line}: ${line.text}`);
  }
  return {
    ok: false,
    title: `Verification of ${exposure} failed (${result.verified} files matched).`,
    details,
  };
}

const CATCHUP_ACTION: Record<CatchupResult['action'], string> = {
  'nothing-changed': 'nothing changed at the source',
  synced: 'changes synced',
  'would-sync': 'changes would be synced',
  failed: 'failed',
};

export function describeCatchup(result: CatchupResult): Outcome {
  const details = result.exposures.map((e) => {
    const changed =
      e.changed.length > 0
        ? `${plural(e.changed.length, 'changed file')} (${names(e.changed)})`
        : 'no change';
    const verify = e.verify ? (e.verify.ok ? ', checksums match' : ', checksums do NOT match') : '';
    return `${e.exposure}: ${changed}${verify}`;
  });
  if (result.message) details.unshift(result.message);
  const verifiedOk = result.exposures.every((e) => e.verify === undefined || e.verify.ok);
  return {
    ok: result.action !== 'failed' && verifiedOk,
    title: `Catch-up of ${result.night}${result.dryRun ? ' (dry run)' : ''}: ${CATCHUP_ACTION[result.action]}.`,
    details,
  };
}

export function describeArchive(result: ArchiveResult): Outcome {
  // A dry run has not read the files yet: only the exposures are known.
  const files = result.members > 0 ? `, ${plural(result.members, 'file')}, ${formatBytes(result.bytes)}` : '';
  const size = `${plural(result.exposures.length, 'exposure')}${files}`;
  const what: Record<ArchiveResult['action'], string> = {
    archived: `archived and verified (${size}) in ${result.tar}`,
    'already-archived': `already archived in ${result.tar}; left as it is`,
    'would-archive': `would archive ${size} into ${result.tar}`,
    failed: 'failed',
    'nothing-to-archive': 'nothing to archive: no exposure of the night is published yet',
  };
  const details: string[] = [];
  if (result.message) details.push(result.message);
  if (result.catchup) {
    const catchup = describeCatchup(result.catchup);
    details.push(catchup.title, ...catchup.details);
  }
  return {
    ok: result.action !== 'failed',
    title: `Archive of ${result.night}${result.dryRun ? ' (dry run)' : ''}: ${what[result.action]}.`,
    details,
  };
}

type ActionState =
  | { kind: 'idle' }
  | { kind: 'busy' }
  | { kind: 'done'; outcome: Outcome }
  | { kind: 'error'; message: string };

export function OutcomeView({ state, failedTitle }: { state: ActionState; failedTitle: string }) {
  if (state.kind === 'idle' || state.kind === 'busy') return null;
  if (state.kind === 'error') {
    return (
      <div className="notice notice-error action-outcome" role="alert">
        <strong>{failedTitle} </strong>
        {state.message}
      </div>
    );
  }
  const { outcome } = state;
  return (
    <div
      className={`notice action-outcome ${outcome.ok ? 'notice-ok' : 'notice-warn'}`}
      role="status"
      data-ok={outcome.ok}
    >
      <strong>{outcome.title}</strong>
      {outcome.details.length > 0 && (
        <ul>
          {outcome.details.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Runs one API call at a time and keeps what came back (or the error) for display. */
function useAction(onDone: () => void) {
  const [state, setState] = useState<ActionState>({ kind: 'idle' });
  const run = async (call: () => Promise<Outcome>) => {
    setState({ kind: 'busy' });
    try {
      setState({ kind: 'done', outcome: await call() });
      onDone();
    } catch (e) {
      setState({ kind: 'error', message: errorMessage(e) });
    }
  };
  return { state, run };
}

/** "Verify again" for one published exposure; `onDone` reloads what shows the checksum stage. */
export function VerifyAction({
  stream,
  night,
  exposure,
  onDone,
}: {
  stream: string;
  night: string;
  exposure: string;
  onDone: () => void;
}) {
  const { state, run } = useAction(onDone);
  const verify = () =>
    run(async () => describeVerify(exposure, (await transferApi.verify(stream, night, exposure)).result));
  return (
    <div className="verify-action">
      <button
        type="button"
        aria-label={`Verify again ${exposure}`}
        disabled={state.kind === 'busy'}
        onClick={() => void verify()}
      >
        {state.kind === 'busy' ? 'Verifying…' : 'Verify again'}
      </button>
      <OutcomeView state={state} failedTitle="Verification could not run:" />
    </div>
  );
}

/** "Catch up" and "Archive" for one night, as a dry run unless the operator unticks it. */
export function NightActions({
  stream,
  night,
  onDone,
}: {
  stream: string;
  night: string;
  onDone: () => void;
}) {
  const [dryRun, setDryRun] = useState(true);
  const { state, run } = useAction(onDone);
  const [last, setLast] = useState<'catchup' | 'archive'>('catchup');
  const busy = state.kind === 'busy';

  const catchup = () => {
    setLast('catchup');
    return run(async () => describeCatchup(await transferApi.catchup(stream, night, dryRun)));
  };
  const archive = () => {
    setLast('archive');
    return run(async () => describeArchive(await transferApi.archive(stream, night, dryRun)));
  };

  return (
    <div className="night-actions">
      <div className="night-actions-row" role="group" aria-label={`Actions for night ${night}`}>
        <button type="button" disabled={busy} onClick={() => void catchup()}>
          Catch up
        </button>
        <button type="button" disabled={busy} onClick={() => void archive()}>
          Archive
        </button>
        <label className="checkbox">
          <input type="checkbox" checked={dryRun} onChange={(event) => setDryRun(event.target.checked)} />
          Dry run (only show what would happen)
        </label>
        {busy && (
          <span className="muted" role="status">
            {last === 'catchup' ? 'Catching up…' : 'Archiving…'}
          </span>
        )}
      </div>
      <OutcomeView
        state={state}
        failedTitle={last === 'catchup' ? 'Catch-up could not run:' : 'Archive could not run:'}
      />
    </div>
  );
}
