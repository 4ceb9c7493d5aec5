import path from 'node:path';
import { InputError, coerceError } from '../../core/errors.js';
import type { FileHasher } from './checksum.adapter.js';
import { errnoCode } from './checksum.adapter.js';
import { parseManifest, type MalformedLine } from './manifest.parser.js';

/** What `transfer verify --json` prints (issue 3). Lists are sorted. */
export interface VerifyResult {
  ok: boolean;
  /** Listed files whose content matches. */
  verified: number;
  /** Bytes hashed (listed files that exist). */
  bytes: number;
  /** Listed but not present as a regular file. */
  missing: string[];
  /** Present but not listed (the manifest itself excluded). */
  unlisted: string[];
  /** Listed, present, content differs (or could not be read). */
  mismatched: string[];
  /** Bad manifest lines; line 0 is the manifest as a whole (missing, empty). */
  malformed: MalformedLine[];
}

export interface VerifyOptions {
  dir: string;
  /** Manifest file; default the single `*.sha256sum` file at the top of `dir`. */
  manifest?: string;
  /** Files hashed at once; default 4. */
  concurrency?: number;
}

export interface VerifyDeps {
  files: FileHasher;
}

const MANIFEST_SUFFIX = '.sha256sum';

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * Checks a directory against its `sha256sum` manifest. A missing or empty manifest or any
 * malformed line makes the result fail (a verification that checked nothing is never a pass);
 * they are reported as values, like the file differences. Throws InputError only when there is
 * nothing to verify against at all: DIR missing or not a directory (TRANSFER_DIR_NOT_FOUND), or
 * several `*.sha256sum` candidates with no `manifest` given (TRANSFER_MANIFEST_AMBIGUOUS).
 */
export async function verifyDirectory(options: VerifyOptions, deps: VerifyDeps): Promise<VerifyResult> {
  const { files } = deps;
  const dir = path.resolve(options.dir);
  if ((await files.kind(dir)) !== 'directory') {
    throw new InputError(
      'TRANSFER_DIR_NOT_FOUND',
      `directory "${options.dir}" does not exist or is not a directory: give the directory that holds the files`,
      { details: { dir: options.dir } },
    );
  }
  const present = await files.listFiles(dir);

  let manifestPath: string | undefined;
  if (options.manifest !== undefined) manifestPath = path.resolve(options.manifest);
  else {
    const candidates = present.filter((f) => !f.includes('/') && f.endsWith(MANIFEST_SUFFIX));
    if (candidates.length > 1) {
      throw new InputError(
        'TRANSFER_MANIFEST_AMBIGUOUS',
        `directory "${options.dir}" holds ${candidates.length} *.sha256sum files (${candidates.join(', ')}): choose one with --manifest`,
        { details: { dir: options.dir, candidates } },
      );
    }
    if (candidates[0] !== undefined) manifestPath = path.join(dir, candidates[0]);
  }
  const manifestRel =
    manifestPath === undefined ? undefined : path.relative(dir, manifestPath).split(path.sep).join('/');
  const others = present.filter((f) => f !== manifestRel);

  const failed = (text: string): VerifyResult => ({
    ok: false,
    verified: 0,
    bytes: 0,
    missing: [],
    unlisted: others,
    mismatched: [],
    malformed: [{ line: 0, text }],
  });
  if (manifestPath === undefined) return failed(`no *${MANIFEST_SUFFIX} manifest in ${options.dir}`);
  const text = await files.readText(manifestPath);
  if (text === undefined) return failed(`manifest ${options.manifest ?? manifestPath} does not exist`);

  const parsed = parseManifest(text);
  const malformed = [...parsed.malformed];
  if (parsed.entries.length === 0 && malformed.length === 0)
    malformed.push({ line: 0, text: 'empty manifest' });

  const presentSet = new Set(others);
  const listed = new Set(parsed.entries.map((e) => e.path));
  const missing: string[] = [];
  const mismatched: string[] = [];
  let verified = 0;
  let bytes = 0;
  const toHash = parsed.entries.filter((entry) => {
    if (presentSet.has(entry.path)) return true;
    missing.push(entry.path);
    return false;
  });
  await mapLimit(toHash, options.concurrency ?? 4, async (entry) => {
    try {
      const hashed = await files.hashFile(path.join(dir, ...entry.path.split('/')));
      bytes += hashed.bytes;
      if (hashed.sha256 === entry.sha256) verified++;
      else mismatched.push(entry.path);
    } catch (e) {
      // Gone since the listing: missing. Unreadable: its content is unconfirmed, so not a match.
      if (errnoCode(coerceError(e)) === 'ENOENT') missing.push(entry.path);
      else mismatched.push(entry.path);
    }
  });
  const unlisted = others.filter((f) => !listed.has(f));
  missing.sort();
  mismatched.sort();
  return {
    ok: missing.length === 0 && unlisted.length === 0 && mismatched.length === 0 && malformed.length === 0,
    verified,
    bytes,
    missing,
    unlisted,
    mismatched,
    malformed,
  };
}
