/**
 * Checksum manifests in `sha256sum` format. Pure: any text gives a result, never an exception.
 *
 *   <64 hex digits><two spaces | space-asterisk><relative path>
 *
 * Names may contain spaces and sit in subdirectories; a trailing newline is optional and CRLF line
 * endings are tolerated. GNU coreutils escapes names holding a backslash, newline or carriage
 * return: such a line starts with `\` and the name carries `\\`, `\n`, `\r`; those are decoded.
 * Every line of the text ends up either as an entry or as malformed (with its 1-based number):
 * absolute paths, `..` segments, empty segments and repeated paths are malformed too, because a
 * manifest must never make the verifier look outside its directory or pass by ambiguity.
 */

export interface ManifestEntry {
  /** Relative path with `/` separators, `.` segments removed. */
  path: string;
  /** Lower-case hex. */
  sha256: string;
  /** 1-based line number in the manifest. */
  line: number;
}

export interface MalformedLine {
  /** 1-based line number; 0 when the manifest as a whole is the problem (missing, empty). */
  line: number;
  text: string;
}

export interface ParsedManifest {
  entries: ManifestEntry[];
  malformed: MalformedLine[];
}

const LINE_RE = /^(\\?)([0-9A-Fa-f]{64}) [ *](.+)$/s;

/** Decodes a GNU-escaped name; undefined for an unknown escape. */
function unescapeName(name: string): string | undefined {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = name[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else return undefined;
  }
  return out;
}

/** The normalized relative path, or undefined when it could leave the directory or is empty. */
export function normalizeManifestPath(raw: string): string | undefined {
  if (raw === '' || raw.startsWith('/') || raw.includes('\0')) return undefined;
  const segments: string[] = [];
  for (const segment of raw.split('/')) {
    if (segment === '.') continue;
    if (segment === '' || segment === '..') return undefined;
    segments.push(segment);
  }
  return segments.length === 0 ? undefined : segments.join('/');
}

export function parseManifest(text: string): ParsedManifest {
  const entries: ManifestEntry[] = [];
  const malformed: MalformedLine[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const text = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const match = LINE_RE.exec(text);
    if (!match) {
      malformed.push({ line, text });
      return;
    }
    const [, escaped = '', hash = '', rawName = ''] = match;
    const name = escaped === '\\' ? unescapeName(rawName) : rawName;
    const path = name === undefined ? undefined : normalizeManifestPath(name);
    if (path === undefined || seen.has(path)) {
      malformed.push({ line, text });
      return;
    }
    seen.add(path);
    entries.push({ path, sha256: hash.toLowerCase(), line });
  });
  return { entries, malformed };
}

/** One manifest line as `sha256sum` writes it (text mode, escaped when the name needs it). */
export function formatManifestLine(sha256: string, path: string): string {
  if (!/[\\\n\r]/.test(path)) return `${sha256}  ${path}`;
  const escaped = path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `\\${sha256}  ${escaped}`;
}
