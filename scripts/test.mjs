#!/usr/bin/env node
// Runs every test file through node's test runner with tsx. Node 20's runner finds no files
// without explicit arguments, so we list them here. Pass file paths or name fragments to narrow.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const roots = ['src', 'test'];
const files = [];
function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'helpers' || entry.name === 'fixtures') continue;
      walk(full);
    } else if (entry.name.endsWith('.test.ts')) files.push(full);
  }
}
for (const root of roots) if (fs.existsSync(root)) walk(root);
files.sort();
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}
// One file at a time (concurrency 1) keeps servers and ports of different suites apart and fits
// the 2-core machines; each file still gets its own process.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected],
  { stdio: 'inherit', env: process.env },
);
process.exit(result.status ?? 1);
