// The lists of a site's latest run (missing, orphans, empty directories, size mismatches) as tabs:
// whether the list is for action and why, its first entries with their history, the whole list as
// text, and for operators "Mark acted".
import { useId } from 'react';
import { auditApi } from '../api/client';
import type { AuditRun, EntryKind, SiteMode } from '../api/types';
import { useResource } from '../api/use-resource';
import { MarkActedAction } from './audit-actions';
import { formatCount } from './audit-state';
import { formatDateTime } from './format';
import { Empty, ErrorNotice, Loading } from './status';

/** Entries shown on the page; the download has them all. */
export const ENTRY_LIMIT = 200;

export interface EntryTab {
  kind: EntryKind;
  label: string;
  /** How many the run found (the missing list itself holds only those missed twice in a row). */
  count: (run: AuditRun) => number;
  none: string;
}

export const ENTRY_TABS: readonly EntryTab[] = [
  { kind: 'missing', label: 'Missing', count: (run) => run.missing, none: 'No missing file is listed.' },
  { kind: 'orphan', label: 'Orphans', count: (run) => run.orphans, none: 'No orphan file.' },
  { kind: 'empty', label: 'Empty directories', count: (run) => run.emptyDirs, none: 'No empty directory.' },
  {
    kind: 'size-mismatch',
    label: 'Size mismatches',
    count: (run) => run.sizeMismatches,
    none: 'No size mismatch.',
  },
];

export function entryTab(value: string | null): EntryTab {
  return ENTRY_TABS.find((tab) => tab.kind === value) ?? (ENTRY_TABS[0] as EntryTab);
}

function EntryListPanel({
  site,
  tab,
  version,
  canOperate,
}: {
  site: string;
  tab: EntryTab;
  /** Changes when the list may have: a new run, or a new mode (which decides "for action"). */
  version: string;
  canOperate: boolean;
}) {
  // A new version drops the old list rather than showing it under the new run or mode.
  const list = useResource(`${auditApi.entriesPath(site, tab.kind)}#${version}`, (signal) =>
    auditApi.entries(site, tab.kind, { signal }),
  );
  if (!list.data) {
    return list.error ? (
      <ErrorNotice error={list.error} />
    ) : (
      <Loading what={`Loading ${tab.label.toLowerCase()}`} />
    );
  }
  const { entries, forAction, reason } = list.data;
  const shown = entries.slice(0, ENTRY_LIMIT);
  return (
    <>
      {list.error && <ErrorNotice title="Refresh failed:" error={list.error} />}
      <div className="audit-list-header">
        <span
          className="audit-for-action"
          data-testid="for-action"
          data-for-action={forAction ? 'yes' : 'no'}
        >
          For action: <strong>{forAction ? 'yes' : 'no'}</strong>
          {reason && <span className="audit-reason"> — {reason}</span>}
        </span>
        <span className="muted" data-testid="entry-count">
          {entries.length > ENTRY_LIMIT
            ? `first ${ENTRY_LIMIT} of ${formatCount(entries.length)}`
            : `${formatCount(entries.length)} ${entries.length === 1 ? 'entry' : 'entries'}`}
        </span>
        <a
          className="audit-download"
          href={auditApi.downloadUrl(site, tab.kind)}
          download={`${site}_${tab.kind}.txt`}
        >
          Download
        </a>
        {canOperate && <MarkActedAction site={site} kind={tab.kind} onDone={list.reload} />}
      </div>
      {list.data.runId === null ? (
        <Empty>The site has not been audited yet.</Empty>
      ) : shown.length === 0 ? (
        <Empty>{tab.none}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table audit-entries-table" data-kind={tab.kind}>
            <caption className="sr-only">
              {tab.label} of {site}, latest run
            </caption>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
                <th scope="col">Acted at</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((entry) => (
                <tr key={entry.path} data-path={entry.path}>
                  <td className="path">{entry.path}</td>
                  <td>
                    <time dateTime={entry.firstSeen}>{formatDateTime(entry.firstSeen)}</time>
                  </td>
                  <td>
                    <time dateTime={entry.lastSeen}>{formatDateTime(entry.lastSeen)}</time>
                  </td>
                  <td data-column="acted-at">
                    {entry.actedAt === null ? (
                      <span className="muted">—</span>
                    ) : (
                      <time dateTime={entry.actedAt}>{formatDateTime(entry.actedAt)}</time>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The four lists as tabs; which one is open lives with the caller (the page keeps it in the URL). */
export function EntryTabs({
  site,
  mode,
  latest,
  selected,
  onSelect,
  canOperate,
}: {
  site: string;
  mode: SiteMode;
  latest: AuditRun | null;
  selected: EntryTab;
  onSelect: (kind: EntryKind) => void;
  canOperate: boolean;
}) {
  const id = useId();
  const tabId = (kind: EntryKind) => `${id}-tab-${kind}`;
  const panelId = `${id}-panel`;
  return (
    <div className="audit-lists">
      <div className="audit-tabs" role="tablist" aria-label="Lists of the latest run">
        {ENTRY_TABS.map((tab) => (
          <button
            key={tab.kind}
            type="button"
            role="tab"
            id={tabId(tab.kind)}
            aria-selected={tab.kind === selected.kind}
            aria-controls={panelId}
            data-kind={tab.kind}
            onClick={() => onSelect(tab.kind)}
          >
            {tab.label}
            {latest && <span className="audit-tab-count"> {formatCount(tab.count(latest))}</span>}
          </button>
        ))}
      </div>
      <div className="audit-tab-panel" role="tabpanel" id={panelId} aria-labelledby={tabId(selected.kind)}>
        <EntryListPanel
          key={selected.kind}
          site={site}
          tab={selected}
          version={`${latest?.id ?? 'none'}:${mode}`}
          canOperate={canOperate}
        />
      </div>
    </div>
  );
}
