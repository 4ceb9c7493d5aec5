/**
 * Inventory-vs-listing comparison in DuckDB, with bounded memory: DuckDB reads the dumps as
 * streams and runs on a database file in a fresh scratch directory (removed afterwards), where
 * its working tables, joins, aggregates and sorts spill beyond `memoryLimit`.
 *
 * Semantics (issue 4). `young` means an mtime later than `now - ignoreAgeDays days`; an entry
 * without mtime is old. Paths are compared byte for byte. Directory entries of the inventory are
 * not used.
 * - missing: a file in the inventory, not in the listing, old in the inventory;
 * - orphan: a file in the listing, not in the inventory, old in the listing, matching no ignore
 *   pattern;
 * - size mismatch: in both with different sizes, old on both sides;
 * - a path listed more than once in a dump: missing or orphan with its largest size, and young
 *   when any of its entries is; a size mismatch when any pair of old entries (one per side)
 *   differs in size;
 * - empty directory: a directory entry of the listing with no listing file below it, where
 *   neither it nor any directory entry below it is young or matches an ignore pattern, and no
 *   unlisted directory lies at or below it (else removing it deepest-first would fail or be
 *   wrong). Sorted deepest first (most `/`), then by path;
 * - still being written: a directory (any ancestor of a listing path, `/` included) with at least
 *   one listing file below it, all of them young. Nothing at or below it is reported;
 * - unlisted: nothing at or below an unlisted directory is reported.
 * Reports are sorted byte-wise (as `LC_ALL=C sort`), one path per line.
 *
 * How (scales to 10^8 entries per dump; each dump is read twice at most):
 * 1. The inventory streams through a hash join against the listing's (hash(path), byte length,
 *    size): 24 bytes per listing file, never the paths. The line checks of dump.parser.ts are
 *    computed on the way. Kept: every inventory entry (with its path) in a pair that differs or
 *    without partner, and the key of every listing entry without partner; a few percent.
 * 2. The listing is read again and aggregated per directory (for the empty and still-written
 *    rules, rolled up to every ancestor), picking up its entries behind the kept keys.
 * 3. The kept entries are compared by path. That is exact unless two paths share a key; then
 *    the inventory is read again for all its entries behind the kept keys, and it is exact again.
 *    So a hash collision (equal 64-bit hash and length) can at worst hide a missing file or an
 *    orphan of the same size as the entry it collides with; it never reports a wrong difference.
 * A malformed dump is found in step 1; dump.parser.ts then reads it line by line for the
 * message naming the file and line (only on that error path).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { InputError } from '../../core/errors.js';
import type { CompareEngine } from './audit.ports.js';
import type { CompareOptions, CompareReports, CompareResult } from './audit.types.js';
import { MAX_PATH_BYTES, openDump, validateDump } from './dump.parser.js';

export interface DuckDbCompareEngineOptions {
  /** DuckDB memory_limit (default 1GB); beyond it DuckDB spills to the temp directory. */
  memoryLimit?: string;
  /** DuckDB threads (default: DuckDB's, the number of cores). */
  threads?: number;
  /** Where DuckDB spills (default: inside the scratch directory in workDir). */
  tempDirectory?: string;
  /**
   * Bits of the path hash used as join key, 1-64 (default 64). Only tests lower it, to make
   * collisions common and check that the answers stay exact.
   */
  keyBits?: number;
}

const DAY_SECONDS = 86_400;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function readDump(file: string): string {
  // Every byte but TAB and LF is data: no quoting, no escapes, no type sniffing.
  return `read_csv(${sqlString(file)}, columns = {'path': 'VARCHAR', 'size': 'VARCHAR', 'mtime': 'VARCHAR'},
    delim = '\t', quote = '', escape = '', header = false, null_padding = true, new_line = '\\n',
    auto_detect = false, strict_mode = true, max_line_size = 1048576)`;
}

/**
 * The line rules of dump.parser.ts, as SQL over the raw fields (NULL for an empty field). The
 * regular expressions are slow next to the rest, so canonical integers (nearly every field) are
 * accepted on a cast round trip first; the full rule decides the rest.
 */
const canonical = (field: string) =>
  `(TRY_CAST(${field} AS UBIGINT) <= ${MAX_SAFE} AND TRY_CAST(${field} AS UBIGINT)::VARCHAR = ${field})`;
const BAD_LINE = `NOT coalesce(
  prefix(path, '/') AND NOT contains(path, chr(0)) AND strlen(path) <= ${MAX_PATH_BYTES}
  AND CASE WHEN ${canonical('size')} THEN true
      ELSE regexp_full_match(size, '[0-9]{1,16}') AND TRY_CAST(size AS UBIGINT) <= ${MAX_SAFE} END
  AND CASE WHEN mtime IS NULL OR ${canonical('mtime')} THEN true
      ELSE regexp_full_match(mtime, '[0-9]{1,16}(\\.[0-9]{1,9})?') AND TRY_CAST(mtime AS DOUBLE) <= ${MAX_SAFE} END,
  false)`;

/** Directory of a file path, with its trailing `/` (`/a/b/c` → `/a/b/`, `/c` → `/`). */
const parentOf = (expr: string) => `(parse_dirpath(${expr}, 'forward_slash') || '/')`;

/** Every directory from `/` down to and including the directory `expr` (which ends in `/`). */
const ancestorsOf = (expr: string) =>
  `[array_to_string(string_split(${expr}, '/')[1:i], '/') || '/' FOR i IN range(1, len(string_split(${expr}, '/')))]`;

function matchesAny(expr: string, patterns: readonly string[]): string {
  const tests = patterns.filter((p) => p !== '').map((p) => `contains(${expr}, ${sqlString(p)})`);
  return tests.length === 0 ? 'false' : `(${tests.join(' OR ')})`;
}

/** Directory paths end in `/`, so `/store/mc` and `/store/mc/` name the same unlisted directory. */
function normalizeDirectory(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

/** A count or sum from DuckDB (bigint, or a hugeint as bigint) as a number. */
function num(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value);
}

function isCsvError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /CSV|unicode|utf-8|Conversion Error|Could not convert/i.test(message);
}

async function writeReport(connection: DuckDBConnection, query: string, file: string): Promise<void> {
  const temporary = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await connection.run(
      `COPY (${query}) TO ${sqlString(temporary)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')`,
    );
    await fs.promises.rename(temporary, file);
  } catch (error) {
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}

/** Fails before the (long) comparison rather than after it when the reports cannot be written. */
async function checkReportDirectory(prefix: string): Promise<void> {
  const dir = path.dirname(path.resolve(prefix));
  const stat = await fs.promises.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory())
    throw new InputError(
      'AUDIT_REPORT_UNWRITABLE',
      `cannot write reports ${prefix}_*.txt: ${dir} is not an existing directory`,
      { details: { prefix } },
    );
}

export class DuckDbCompareEngine implements CompareEngine {
  constructor(private readonly engineOptions: DuckDbCompareEngineOptions = {}) {}

  async compare(options: CompareOptions): Promise<CompareResult> {
    if (!Number.isFinite(options.now))
      throw new InputError('AUDIT_BAD_ARGUMENT', `now must be unix seconds, got ${options.now}`);
    if (!Number.isFinite(options.ignoreAgeDays) || options.ignoreAgeDays < 0)
      throw new InputError(
        'AUDIT_BAD_ARGUMENT',
        `ignoreAgeDays must be a non-negative number, got ${options.ignoreAgeDays}`,
      );
    options.signal?.throwIfAborted();
    for (const file of [options.inventory, options.listing]) await (await openDump(file)).close();
    if (options.out !== undefined) await checkReportDirectory(options.out);

    const scratch = await fs.promises.mkdtemp(path.join(options.workDir ?? os.tmpdir(), 'custodian-audit-'));
    let instance: DuckDBInstance | undefined;
    let connection: DuckDBConnection | undefined;
    const onAbort = () => connection?.interrupt();
    options.signal?.addEventListener('abort', onAbort);
    try {
      const config: Record<string, string> = {
        memory_limit: this.engineOptions.memoryLimit ?? '1GB',
        temp_directory: this.engineOptions.tempDirectory ?? path.join(scratch, 'spill'),
        preserve_insertion_order: 'false',
      };
      if (this.engineOptions.threads !== undefined) config.threads = String(this.engineOptions.threads);
      // Loaded here, not at import: every CLI command imports this module (through the audit
      // commands), and DuckDB's native library costs ~0.15 s of start-up that only a comparison
      // needs.
      const { DuckDBInstance } = await import('@duckdb/node-api');
      instance = await DuckDBInstance.create(path.join(scratch, 'compare.duckdb'), config);
      connection = await instance.connect();
      // read_csv is estimated at a few rows, so DuckDB would build hash tables on the dumps; with
      // this off, the right side of each join is built: the queries put the small side there.
      await connection.run(`SET disabled_optimizers = 'build_side_probe_side'`);
      return await this.run(connection, options);
    } catch (error) {
      options.signal?.throwIfAborted();
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      connection?.closeSync();
      instance?.closeSync();
      await fs.promises.rm(scratch, { recursive: true, force: true });
    }
  }

  /** The join key of a path column (the path's byte length goes beside it). */
  private keyOf(column: string): string {
    const bits = this.engineOptions.keyBits ?? 64;
    if (!Number.isInteger(bits) || bits < 1 || bits > 64)
      throw new RangeError(`keyBits must be 1-64, got ${bits}`);
    return bits === 64 ? `hash(${column})` : `(hash(${column}) >> ${64 - bits})`;
  }

  private async run(db: DuckDBConnection, options: CompareOptions): Promise<CompareResult> {
    const step = async (sql: string) => {
      options.signal?.throwIfAborted();
      return db.run(sql);
    };
    const rows = async (sql: string) => {
      options.signal?.throwIfAborted();
      return (await db.runAndReadAll(sql)).getRowObjectsJS();
    };
    const cutoff = options.now - options.ignoreAgeDays * DAY_SECONDS;
    const inventory = readDump(options.inventory);
    const listing = readDump(options.listing);
    const young = (expr: string) => `coalesce(${expr} > ${cutoff}, false)`;

    // Step 1: the inventory (streamed, with its paths) against the listing (hash table of keys).
    const key = this.keyOf('path');
    try {
      // Directory entries get no key (NULL never joins) rather than a filter, so that the line
      // check is computed once per line.
      const side = (dump: string, columns: string) => `
        SELECT ${columns} CASE WHEN suffix(path, '/') THEN NULL ELSE ${key} END AS h, strlen(path) AS n,
               TRY_CAST(size AS UBIGINT) AS size, ${BAD_LINE} AS bad
        FROM ${dump}`;
      await step(`CREATE TEMP TABLE keys AS
        SELECT coalesce(i.h, l.h) AS h, coalesce(i.n, l.n) AS n, i.path AS path, i.size AS size,
               TRY_CAST(i.mtime AS DOUBLE) AS mtime,
               coalesce(i.bad, false) AS ibad, coalesce(l.bad, false) AS lbad
        FROM (${side(inventory, 'path, mtime,')}) i FULL OUTER JOIN (${side(listing, '')}) l
          ON i.h = l.h AND i.n = l.n
        WHERE i.bad OR l.bad
           OR (i.h IS NOT NULL AND l.h IS NULL AND l.bad IS NULL)
           OR (l.h IS NOT NULL AND i.h IS NULL AND i.bad IS NULL)
           OR i.size <> l.size`);
    } catch (error) {
      if (options.signal?.aborted || !isCsvError(error)) throw error;
      await this.explainBadDumps([options.inventory, options.listing], error, options.signal);
    }
    const [flags] = await rows(
      `SELECT coalesce(bool_or(ibad), false) AS ibad, coalesce(bool_or(lbad), false) AS lbad FROM keys`,
    );
    if (flags?.ibad === true || flags?.lbad === true)
      await this.explainBadDumps(
        [
          ...(flags.ibad === true ? [options.inventory] : []),
          ...(flags.lbad === true ? [options.listing] : []),
        ],
        undefined,
        options.signal,
      );
    await step(`CREATE TEMP TABLE diff_keys AS SELECT DISTINCT h, n FROM keys`);
    await step(
      `CREATE TEMP TABLE inv_rows AS SELECT DISTINCT h, n, path, size, mtime FROM keys WHERE path IS NOT NULL`,
    );

    // Step 2: the listing once more, per directory, picking up its entries behind those keys.
    await step(`CREATE TEMP TABLE dirs AS
      SELECT dir, bool_or(is_dir) AS listed, max(mtime) FILTER (WHERE is_dir) AS dir_mtime,
             count(*) FILTER (WHERE NOT is_dir) AS files,
             min(coalesce(mtime, '-infinity'::DOUBLE)) FILTER (WHERE NOT is_dir) AS min_file_mtime,
             list({'h': h, 'n': n, 'path': path, 'size': size, 'mtime': mtime}) FILTER (WHERE wanted) AS entries
      FROM (
        SELECT f.*, k.h IS NOT NULL AS wanted,
               CASE WHEN f.is_dir THEN f.path ELSE ${parentOf('f.path')} END AS dir
        FROM (SELECT path, suffix(path, '/') AS is_dir, TRY_CAST(size AS UBIGINT) AS size,
                     TRY_CAST(mtime AS DOUBLE) AS mtime,
                     CASE WHEN suffix(path, '/') THEN NULL ELSE ${key} END AS h, strlen(path) AS n
              FROM ${listing}) f
        LEFT JOIN diff_keys k ON f.h = k.h AND f.n = k.n)
      GROUP BY dir`);
    await step(`CREATE TEMP TABLE lst_rows AS
      SELECT e.h AS h, e.n AS n, e.path AS path, e.size AS size, e.mtime AS mtime
      FROM (SELECT unnest(entries) AS e FROM dirs WHERE len(entries) > 0)`);

    // Step 3: exact comparison by path. Step 1 kept every inventory entry in a differing pair and
    // step 2 every listing entry behind a key, which is exact unless two paths share a key; then
    // the inventory is read once more for all its entries behind those keys.
    const [collisions] = await rows(`SELECT count(*) AS keys FROM (
        SELECT h, n FROM (SELECT h, n, path FROM inv_rows UNION ALL SELECT h, n, path FROM lst_rows)
        GROUP BY h, n HAVING min(path) <> max(path))`);
    if (num(collisions?.keys) > 0)
      await step(`CREATE OR REPLACE TEMP TABLE inv_rows AS
        SELECT DISTINCT h, n, path, size, mtime FROM (
          SELECT ${this.keyOf('f.path')} AS h, strlen(f.path) AS n, f.path, TRY_CAST(f.size AS UBIGINT) AS size,
                 TRY_CAST(f.mtime AS DOUBLE) AS mtime
          FROM ${inventory} f SEMI JOIN diff_keys k ON ${this.keyOf('f.path')} = k.h AND strlen(f.path) = k.n
          WHERE NOT suffix(f.path, '/'))`);
    await step(
      `CREATE TEMP TABLE inv_paths AS SELECT path, max(size) AS size, max(mtime) AS mtime FROM inv_rows GROUP BY path`,
    );
    await step(
      `CREATE TEMP TABLE lst_paths AS SELECT path, max(size) AS size, max(mtime) AS mtime FROM lst_rows GROUP BY path`,
    );
    await step(`CREATE TEMP TABLE diff AS
      SELECT i.path, 'missing' AS kind, i.size, i.mtime FROM inv_paths i ANTI JOIN lst_paths l ON i.path = l.path
      UNION ALL
      SELECT l.path, 'orphan', l.size, l.mtime FROM lst_paths l ANTI JOIN inv_paths i ON l.path = i.path
      UNION ALL
      SELECT DISTINCT i.path, 'mismatch', NULL, NULL FROM inv_rows i JOIN lst_rows l ON i.path = l.path
      WHERE i.size <> l.size AND NOT ${young('i.mtime')} AND NOT ${young('l.mtime')}`);

    // Step 4: the per-directory facts rolled up to every ancestor.
    await step(`CREATE TEMP TABLE unlisted (dir VARCHAR)`);
    const unlisted = [...new Set((options.unlisted ?? []).map(normalizeDirectory))];
    if (unlisted.length > 0)
      await step(`INSERT INTO unlisted VALUES ${unlisted.map((u) => `(${sqlString(u)})`).join(', ')}`);
    await step(`CREATE TEMP TABLE subtree AS
      SELECT dir, sum(files) AS files, min(min_file_mtime) AS min_file_mtime, bool_or(blocks) AS blocked
      FROM (
        SELECT unnest(${ancestorsOf('dir')}) AS dir, files, min_file_mtime,
               listed AND (${young('dir_mtime')} OR ${matchesAny('dir', options.ignorePatterns)}) AS blocks
        FROM dirs
        UNION ALL
        SELECT unnest(${ancestorsOf('dir')}), 0, NULL, true FROM unlisted)
      GROUP BY dir`);
    await step(`CREATE TEMP TABLE hidden AS
      SELECT dir FROM subtree WHERE files > 0 AND min_file_mtime > ${cutoff}
      UNION SELECT dir FROM unlisted`);

    await step(`CREATE TEMP TABLE result AS
      SELECT path, kind, size FROM diff
      WHERE (kind = 'mismatch' OR NOT ${young('mtime')})
        AND (kind <> 'orphan' OR NOT ${matchesAny('path', options.ignorePatterns)})
        AND path NOT IN (
          SELECT a.path FROM (SELECT path, unnest(${ancestorsOf(parentOf('path'))}) AS dir FROM diff) a
          JOIN hidden h ON a.dir = h.dir)`);
    await step(`CREATE TEMP TABLE empty AS
      WITH candidates AS (
        SELECT s.dir FROM subtree s JOIN dirs d ON s.dir = d.dir
        WHERE d.listed AND s.files = 0 AND NOT s.blocked)
      SELECT dir, len(string_split(dir, '/')) AS depth FROM candidates
      WHERE dir NOT IN (
        SELECT c.dir FROM (SELECT dir, unnest(${ancestorsOf('dir')}) AS anc FROM candidates) c
        JOIN hidden h ON c.anc = h.dir)`);

    const [counts] = await rows(`SELECT
        count(*) FILTER (WHERE kind = 'missing') AS missing,
        count(*) FILTER (WHERE kind = 'orphan') AS orphans,
        count(*) FILTER (WHERE kind = 'mismatch') AS mismatches,
        coalesce(sum(size) FILTER (WHERE kind = 'missing'), 0) AS missing_bytes,
        coalesce(sum(size) FILTER (WHERE kind = 'orphan'), 0) AS orphan_bytes,
        (SELECT count(*) FROM empty) AS empty
      FROM result`);
    const result: CompareResult = {
      missing: num(counts?.missing),
      orphans: num(counts?.orphans),
      sizeMismatches: num(counts?.mismatches),
      emptyDirs: num(counts?.empty),
      missingBytes: num(counts?.missing_bytes),
      orphanBytes: num(counts?.orphan_bytes),
    };
    if (options.out !== undefined) result.reports = await this.writeReports(db, options.out, options.signal);
    return result;
  }

  private async writeReports(
    db: DuckDBConnection,
    prefix: string,
    signal?: AbortSignal,
  ): Promise<CompareReports> {
    const reports: CompareReports = {
      missing: `${prefix}_missing.txt`,
      orphan: `${prefix}_orphan.txt`,
      sizeMismatch: `${prefix}_size_mismatch.txt`,
      empty: `${prefix}_empty.txt`,
    };
    const byKind = (kind: string) => `SELECT path FROM result WHERE kind = '${kind}' ORDER BY path`;
    const queries: [string, string][] = [
      [byKind('missing'), reports.missing],
      [byKind('orphan'), reports.orphan],
      [byKind('mismatch'), reports.sizeMismatch],
      [`SELECT dir FROM empty ORDER BY depth DESC, dir`, reports.empty],
    ];
    for (const [query, file] of queries) {
      signal?.throwIfAborted();
      try {
        await writeReport(db, query, file);
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new InputError(
          'AUDIT_REPORT_UNWRITABLE',
          `cannot write report ${file}: ${(error as Error).message}`,
          {
            details: { file },
            cause: error,
          },
        );
      }
    }
    return reports;
  }

  /** Finds the first bad line with the line-by-line reader (throws); `cause` when it finds none. */
  private async explainBadDumps(
    files: readonly string[],
    cause: unknown,
    signal?: AbortSignal,
  ): Promise<never> {
    for (const file of files) await validateDump(file, { signal });
    const detail = cause instanceof Error ? cause.message.split('\n')[0] : 'a line breaks the dump rules';
    throw new InputError(
      'AUDIT_BAD_DUMP',
      `dump ${files.join(' or ')} is malformed: ${detail} (each line is PATH<TAB>SIZE[<TAB>MTIME])`,
      { details: { files }, cause },
    );
  }
}
