/**
 * Bundles the CLI into dist/cli (run by `npm run build:server`, after tsc has type-checked and
 * emitted dist/server). Why: every command starts a fresh node, and loading its ES modules
 * (130 of our own, hundreds of kysely) one file at a time cost ~0.3 CPU-s per
 * command, which `transfer once` pays against a plain rsync. One bundle with code splitting keeps
 * the lazy boundaries (the HTTP server, the app, DuckDB load only when a command needs them).
 *
 * Only pure-JS libraries that read no files of their own are bundled; every other dependency
 * stays external and loads from node_modules as before: native addons (better-sqlite3, DuckDB),
 * and packages that find files next to their modules at run time (graphile-worker's SQL,
 * swagger-ui's assets, pino's worker transports, jsroot).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const BUNDLED = new Set(['kysely', 'zod', 'yaml', 'commander', 'luxon']);
const external = Object.keys(pkg.dependencies)
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`]);

const outdir = path.join(root, 'dist', 'cli');
fs.rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'src', 'bin', 'custodian.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  chunkNames: 'chunks/[name]-[hash]',
  // Bundled CommonJS (commander) calls require() for node built-ins; an ES module has none.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
