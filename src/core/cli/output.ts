/**
 * Command output. With `--json` exactly one JSON document goes to stdout and nothing else;
 * otherwise a human rendering. Logs never go to stdout.
 */
export interface OutputOptions {
  json: boolean;
}

export interface Output {
  readonly json: boolean;
  /** Prints the result: JSON document, or `human(result)` text. */
  result<T>(value: T, human: (value: T) => string): void;
}

export function createOutput(options: OutputOptions, stdout: NodeJS.WritableStream = process.stdout): Output {
  return {
    json: options.json,
    result(value, human) {
      if (options.json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else {
        const text = human(value);
        if (text !== '') stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      }
    },
  };
}

function formatCell(cell: unknown): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'number' || typeof cell === 'boolean' || typeof cell === 'bigint')
    return cell.toString();
  return JSON.stringify(cell);
}

/** Renders rows as an aligned text table. */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers.map(String), ...rows.map((row) => row.map(formatCell))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Bytes for people: `512 B`, `1.5 KiB`, … `2.0 PiB` (binary units, one decimal). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
