// Builds observatory-like source trees for the transfer tests: <source>/<NIGHT>/<EXPOSURE>/ with
// data files and a sha256sum manifest, plus helpers to snapshot a whole tree (paths, modes,
// sizes, content) so tests can prove what changed and what did not.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface ExposureSpec {
  night: string;
  exposure: string;
  /** Relative path → content. Default three files, one in a subdirectory, one with spaces. */
  files?: Record<string, string>;
  /** Files whose manifest line gets a wrong hash. */
  corrupt?: string[];
  /** Write no manifest at all. */
  noManifest?: boolean;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function manifestName(exposure: string): string {
  return `checksum-${exposure}.sha256sum`;
}

export function defaultFiles(exposure: string): Record<string, string> {
  return {
    [`desi-${exposure}.fits.fz`]: `pixels of ${exposure}\n`.repeat(200),
    [`guide ${exposure}.fits`]: `guider ${exposure}\n`,
    [`sub/request-${exposure}.json`]: JSON.stringify({ exposure }),
  };
}

/** Writes (or rewrites) the manifest of an exposure directory from the files it lists. */
export function writeManifest(
  dir: string,
  exposure: string,
  files: Record<string, string>,
  corrupt: string[] = [],
) {
  const lines = Object.entries(files).map(([name, content]) => {
    const hash = corrupt.includes(name) ? sha256(`not ${content}`) : sha256(content);
    return `${hash}  ${name}`;
  });
  fs.writeFileSync(path.join(dir, manifestName(exposure)), `${lines.join('\n')}\n`);
}

export function writeExposure(source: string, spec: ExposureSpec): string {
  const dir = path.join(source, spec.night, spec.exposure);
  const files = spec.files ?? defaultFiles(spec.exposure);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  if (!spec.noManifest) writeManifest(dir, spec.exposure, files, spec.corrupt);
  return dir;
}

export interface TreeEntry {
  path: string;
  mode: string;
  size: number;
  sha256?: string;
  link?: string;
}

/** Every entry under `root` (not following symlinks), sorted: the whole observable state. */
export function snapshotTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const stat = fs.lstatSync(abs);
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isSymbolicLink()) out.push({ path: rel, mode, size: 0, link: fs.readlinkSync(abs) });
    else if (stat.isDirectory()) {
      out.push({ path: rel, mode, size: 0 });
      for (const name of fs.readdirSync(abs).sort()) walk(rel === '' ? name : `${rel}/${name}`);
    } else out.push({ path: rel, mode, size: stat.size, sha256: sha256(fs.readFileSync(abs)) });
  };
  if (fs.existsSync(root)) walk('');
  return out;
}

export function modeOf(target: string): number {
  return fs.statSync(target).mode & 0o7777;
}
