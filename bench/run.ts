/**
 * `npm run bench -- <name>`: runs one benchmark and prints its JSON result on stdout. Each
 * benchmark times Custodian and its anchor tool in the same run; compare the ratio, not seconds.
 */
const benches: Record<string, () => Promise<{ run: () => Promise<object> }>> = {
  ingest: () => import('./ingest.bench.js'),
  checksum: () => import('./checksum.bench.js'),
  transfer: () => import('./transfer.bench.js'),
  'audit-compare': () => import('./audit-compare.bench.js'),
  'audit-list': () => import('./audit-list.bench.js'),
};

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !(name in benches)) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}>\n`);
    process.exitCode = 2;
    return;
  }
  const load = benches[name];
  if (!load) return;
  const result = await (await load()).run();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
