// A run's files on a shared time axis: one row per subsystem, one mark per file. Hand-drawn SVG
// sized to its container, so marks stay crisp and every mark can carry its own tooltip.
import { useLayoutEffect, useRef, useState, type RefObject } from 'react';
import type { RunFile } from '../api/types';
import { formatBytes, formatClock, formatDate, formatUnixSeconds } from './format';

const ROW_HEIGHT = 34;
const LABEL_WIDTH = 92;
const RIGHT_PAD = 16;
const AXIS_HEIGHT = 30;
const TOP_PAD = 6;
const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];

/** Tick spacings in seconds that read naturally on a clock. */
const STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
];

export function timeTicks(start: number, end: number, maxTicks: number): number[] {
  const span = Math.max(end - start, 1);
  const step = STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks);
  // Align ticks to local-time multiples of the step (a tick at 18:00, not 17:59:47).
  const offset = new Date(start * 1000).getTimezoneOffset() * 60;
  const first = Math.ceil((start - offset) / step) * step + offset;
  const ticks: number[] = [];
  for (let t = first; t <= end; t += step) ticks.push(t);
  return ticks;
}

function useWidth<T extends HTMLElement>(): [RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(800);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    setWidth(element.clientWidth);
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function Timeline({ subsystems }: { subsystems: Record<string, RunFile[]> }) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const names = Object.keys(subsystems).sort();
  const timestamps = names.flatMap((name) => (subsystems[name] ?? []).map((file) => file.timestamp));

  if (timestamps.length === 0) {
    return (
      <div ref={ref} className="timeline timeline-empty">
        No files in this run.
      </div>
    );
  }

  const min = Math.min(...timestamps);
  const max = Math.max(...timestamps);
  // A little room either side so the first and last marks are not on the frame; a run with one
  // file time still gets a minute-wide axis.
  const pad = Math.max((max - min) * 0.03, 30);
  const start = min - pad;
  const end = max + pad;
  const plotLeft = LABEL_WIDTH;
  const plotRight = Math.max(width - RIGHT_PAD, plotLeft + 100);
  const x = (t: number) => plotLeft + ((t - start) / (end - start)) * (plotRight - plotLeft);
  const plotBottom = TOP_PAD + names.length * ROW_HEIGHT;
  const height = plotBottom + AXIS_HEIGHT;
  const ticks = timeTicks(start, end, Math.max(2, Math.floor((plotRight - plotLeft) / 90)));
  const showSeconds = ticks.length > 1 && (ticks[1] ?? 0) - (ticks[0] ?? 0) < 60;
  const multiDay = formatDate(new Date(start * 1000)) !== formatDate(new Date(end * 1000));

  return (
    <div ref={ref} className="timeline" data-testid="timeline">
      <svg width={width} height={height} role="img" aria-label="Files of each subsystem over time">
        {names.map((name, row) => (
          <rect
            key={name}
            className="timeline-band"
            x={plotLeft}
            y={TOP_PAD + row * ROW_HEIGHT + 3}
            width={plotRight - plotLeft}
            height={ROW_HEIGHT - 6}
          />
        ))}
        {ticks.map((t) => (
          <g key={t} className="timeline-tick">
            <line x1={x(t)} x2={x(t)} y1={TOP_PAD} y2={plotBottom + 4} />
            <text x={x(t)} y={plotBottom + 18} textAnchor="middle">
              {multiDay && formatClock(new Date(t * 1000), false) === '00:00'
                ? formatDate(new Date(t * 1000))
                : formatClock(new Date(t * 1000), showSeconds)}
            </text>
          </g>
        ))}
        {names.map((name, row) => {
          const files = subsystems[name] ?? [];
          const top = TOP_PAD + row * ROW_HEIGHT;
          const colour = PALETTE[row % PALETTE.length];
          return (
            <g key={name} className="timeline-row" data-subsystem={name}>
              <text className="timeline-label" x={8} y={top + ROW_HEIGHT / 2 + 4}>
                {name}
                <tspan className="timeline-count"> {files.length}</tspan>
              </text>
              {files.map((file) => (
                <rect
                  key={`${file.path}-${file.timestamp}`}
                  className="timeline-mark"
                  data-timestamp={file.timestamp}
                  x={x(file.timestamp) - 1.5}
                  y={top + 7}
                  width={3}
                  height={ROW_HEIGHT - 14}
                  rx={1}
                  fill={colour}
                >
                  <title>{`${name} · ${formatUnixSeconds(file.timestamp)} · ${formatBytes(file.size)}\n${file.path}`}</title>
                </rect>
              ))}
            </g>
          );
        })}
        <line className="timeline-axis" x1={plotLeft} x2={plotRight} y1={plotBottom} y2={plotBottom} />
      </svg>
    </div>
  );
}
