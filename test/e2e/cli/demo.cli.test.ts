import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, startCli, tempDir } from '../../helpers/cli.js';

// `custodian demo` runs the real pipeline: the simulated online system's files are organized by
// the ingest watcher started by `start`, and the runs appear in the API the dashboard reads.
const dir = tempDir('custodian-demo-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('demo creates a workspace, serves the dashboard and shows runs and exposures arriving', async () => {
  const port = await freePort();
  const demo = startCli(['demo', '--dir', path.join(dir, 'ws'), '--port', String(port)], {
    readyWhen: /Custodian demo running/,
  });
  try {
    await demo.ready;
    const base = `http://127.0.0.1:${port}`;
    const page = await fetch(`${base}/runs`);
    assert.equal(page.status, 200);
    let runs: { items: { run: number; files: Record<string, number> }[] } = { items: [] };
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline) {
      runs = (await (await fetch(`${base}/api/v1/ingest/runs`)).json()) as typeof runs;
      const first = runs.items[0];
      if (first && Object.keys(first.files).length === 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(runs.items[0]?.run, 300001);
    assert.deepEqual(Object.keys(runs.items[0]?.files ?? {}).sort(), ['EMC', 'HLT', 'TPC']);
    const password = fs.readFileSync(path.join(dir, 'ws', 'admin-password.txt'), 'utf8').trim();
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    assert.equal(login.status, 200, 'the printed admin password logs in');

    // The simulated observatory: yesterday's night is published and archived, tonight's flows in.
    interface Night {
      night: string;
      archived: boolean;
      exposures: { exposure: string; publish: { ok: boolean } | null }[];
    }
    let nights: Night[] = [];
    const transferDeadline = Date.now() + 45_000;
    while (Date.now() < transferDeadline) {
      nights = (
        (await (await fetch(`${base}/api/v1/transfer/status?nights=0`)).json()) as { nights: Night[] }
      ).nights;
      if (nights.length === 2 && nights[1]?.archived && (nights[0]?.exposures.length ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(nights.length, 2, JSON.stringify(nights));
    const [tonight, yesterday] = nights;
    assert.ok(yesterday?.archived, 'yesterday archived');
    assert.ok(
      tonight?.exposures.some((e) => e.publish?.ok),
      'tonight has published exposures',
    );
    const archive = path.join(dir, 'ws', 'archive', `desi_spectro_data_${yesterday.night}.tar`);
    assert.ok(fs.existsSync(archive) && fs.existsSync(`${archive}.idx`), 'the nightly archive and its index');

    // Two simulated storage sites, audited in turn: the lossy one shows its losses and dark data.
    interface Site {
      name: string;
      lastRun: { outcome: string; missing: number; orphans: number } | null;
    }
    let sites: Site[] = [];
    const auditDeadline = Date.now() + 60_000;
    while (Date.now() < auditDeadline) {
      sites = ((await (await fetch(`${base}/api/v1/audit/sites`)).json()) as { sites: Site[] }).sites;
      if (sites.length === 2 && sites.every((site) => site.lastRun?.outcome === 'ok')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const byName = new Map(sites.map((site) => [site.name, site.lastRun]));
    const healthy = byName.get('T2_HEALTHY');
    assert.deepEqual(
      [healthy?.outcome, healthy?.missing, healthy?.orphans],
      ['ok', 0, 0],
      'the healthy site is clean',
    );
    assert.ok((byName.get('T2_LOSSY')?.missing ?? 0) > 0, 'the lossy site lost files');
    assert.ok((byName.get('T2_LOSSY')?.orphans ?? 0) > 0, 'the lossy site has dark data');
  } finally {
    demo.child.kill('SIGTERM');
  }
  const result = await demo.exited;
  assert.equal(result.code, 0, result.stderr);
});
