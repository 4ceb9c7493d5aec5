// Missing and orphan counts of a site over its runs (uPlot, x = when the run started). Only runs
// that compared the whole site count: a halted or failed run's partial numbers would read as a
// sudden recovery.
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { AuditRun } from '../api/types';
import { formatCount } from './audit-state';
import { formatClock, formatDate, formatDateTime } from './format';

const HEIGHT = 240;
const MISSING_COLOUR = '#dc2626';
const ORPHAN_COLOUR = '#d97706';

/** Runs that compared the whole site, oldest first, as uPlot's columns (x in unix seconds). */
export function chartData(runs: readonly AuditRun[]): [number[], number[], number[]] {
  const complete = runs
    .filter((run) => run.outcome === 'ok' || run.outcome === 'over-threshold')
    .map((run) => ({ ...run, at: Date.parse(run.startedAt) / 1000 }))
    .filter((run) => Number.isFinite(run.at))
    .sort((a, b) => a.at - b.at);
  return [complete.map((r) => r.at), complete.map((r) => r.missing), complete.map((r) => r.orphans)];
}

/**
 * Tick labels in the dashboard's own 24-hour format: dates when the runs span days, else clock
 * times (with seconds when they span minutes) and the date under the first tick of each day. A
 * label equal to the one before is left out.
 */
function timeTicks(_u: uPlot, splits: number[]): string[] {
  const span = (splits.at(-1) ?? 0) - (splits[0] ?? 0);
  let last = '';
  return splits.map((seconds) => {
    const date = new Date(seconds * 1000);
    const day = formatDate(date);
    const clock = span >= 2 * 86_400 ? '' : formatClock(date, span < 600);
    const key = `${day} ${clock}`;
    if (key === last) return '';
    const label = clock === '' ? day : last.startsWith(day) ? clock : `${clock}\n${day}`;
    last = key;
    return label;
  });
}

function options(width: number): uPlot.Options {
  const counts = (_u: uPlot, values: number[]) => values.map((v) => formatCount(v));
  return {
    width,
    height: HEIGHT,
    scales: {
      // One run still gets an axis: an hour either side of it.
      x: { time: true, range: (_u, min, max) => (min === max ? [min - 3600, max + 3600] : [min, max]) },
      y: { range: (_u, _min, max) => [0, max > 0 ? Math.ceil(max * 1.15) : 1] },
    },
    series: [
      {
        label: 'Run started',
        value: (_u, v) => (v === null ? '—' : formatDateTime(new Date(v * 1000))),
      },
      {
        label: 'Missing',
        stroke: MISSING_COLOUR,
        width: 2,
        points: { show: true, size: 6 },
        value: (_u, v) => (v === null ? '—' : formatCount(v)),
      },
      {
        label: 'Orphans',
        stroke: ORPHAN_COLOUR,
        width: 2,
        points: { show: true, size: 6 },
        value: (_u, v) => (v === null ? '—' : formatCount(v)),
      },
    ],
    axes: [
      { values: timeTicks, size: 50 },
      { values: counts, size: 60 },
    ],
    cursor: { drag: { x: false, y: false } },
  };
}

export function AuditChart({ runs }: { runs: readonly AuditRun[] }) {
  const ref = useRef<HTMLDivElement>(null);
  const data = useMemo(() => chartData(runs), [runs]);
  // Redraw only when the numbers change, not on every refresh of the same runs.
  const dataKey = JSON.stringify(data);

  useEffect(() => {
    const element = ref.current;
    const columns = JSON.parse(dataKey) as uPlot.AlignedData;
    if (!element || (columns[0]?.length ?? 0) === 0) return;
    const plot = new uPlot(options(Math.max(element.clientWidth, 300)), columns, element);
    const observer = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(element.clientWidth, 300), height: HEIGHT }),
    );
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [dataKey]);

  const count = data[0].length;
  return (
    <figure className="audit-chart" data-testid="audit-chart" data-points={count}>
      {count === 0 ? (
        <p className="audit-chart-empty">No complete audit yet: the chart fills in as runs finish.</p>
      ) : (
        <div ref={ref} className="audit-chart-plot" />
      )}
      <figcaption className="sr-only">
        Missing and orphan files found by each complete audit of the site, by the time it started.
      </figcaption>
    </figure>
  );
}
