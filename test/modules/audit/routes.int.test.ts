// The audit API through the real app (openApp + buildHttpServer: the real auth plugin, the error
// wire format, the real audit module with the file:// lister, the DuckDB engine and the job
// queue) on every database dialect. Reads are public; status changes, acting on a list and
// queueing a run need an operator. The app uses the real clock, so the site's ages are relative
// to now.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describeEachDialect } from '../../helpers/database.js';
import { tempDir, writeConfig } from '../../helpers/cli.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp, type App } from '../../../src/app/app.js';
import { buildHttpServer } from '../../../src/app/server.js';
import type { HttpServer } from '../../../src/core/http/api.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { EntryList, SiteReport, SiteSummary } from '../../../src/modules/audit/index.js';

const SITE = 'T2_TEST';
const OTHER = 'T2_OTHER';
const NOW = Math.floor(Date.now() / 1000);
const OLD = NOW - 30 * 86_400;
const YOUNG = NOW - 3_600;

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

type Headers = Record<string, string>;

function writeFile(store: string, rel: string, size: number, mtime = OLD): void {
  const file = path.join(store, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(size, 1));
  fs.utimesSync(file, mtime, mtime);
}

/** Directories as old as the files: a young directory counts as still being written. */
function age(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) age(path.join(dir, entry.name));
  fs.utimesSync(dir, OLD, OLD);
}

/** The known-answer site of the service test on the real clock (see service.int.test.ts). */
function knownSite(root: string): string {
  const store = path.join(root, 'store');
  writeFile(store, 'mc/a/good.root', 100);
  writeFile(store, 'mc/a/name with spaces.root', 7);
  writeFile(store, 'mc/b/orphan.root', 50);
  writeFile(store, 'mc/b/size.root', 20);
  writeFile(store, 'mc/b/young-orphan.root', 5, YOUNG);
  writeFile(store, 'mc/unmerged/ignored-orphan.root', 9);
  fs.mkdirSync(path.join(store, 'mc/empty1/empty2'), { recursive: true });
  age(store);
  fs.writeFileSync(
    path.join(root, 'inventory.tsv'),
    [
      `/store/mc/a/good.root\t100\t${OLD}`,
      `/store/mc/a/name with spaces.root\t7\t${OLD}`,
      `/store/mc/a/lost.root\t30\t${OLD}`,
      `/store/mc/a/young-missing.root\t3\t${YOUNG}`,
      `/store/mc/b/size.root\t10\t${OLD}`,
      '',
    ].join('\n'),
  );
  return store;
}

describeEachDialect('audit API', (ctx) => {
  let dir: string;
  let otherStore: string;
  let app: App;
  let server: HttpServer;
  let operator: Headers;
  let viewer: Headers;

  const get = async <T>(url: string) => {
    const response = await server.inject({ method: 'GET', url: `/api/v1${url}` });
    return { status: response.statusCode, body: response.json<T>() };
  };
  const post = async <T>(url: string, payload: unknown, headers: Headers = {}) => {
    const response = await server.inject({
      method: 'POST',
      url: `/api/v1${url}`,
      headers,
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    return { status: response.statusCode, body: response.json<T>() };
  };
  const errorOf = (response: { status: number; body: unknown }): [number, string] => {
    const body = response.body as ErrorBody;
    assert.ok(body.error && typeof body.error.message === 'string' && body.error.message.length > 0);
    assert.deepEqual(
      Object.keys(body.error).filter((k) => k !== 'details'),
      ['code', 'message'],
    );
    return [response.status, body.error.code];
  };
  const report = async (site: string) => (await get<SiteReport>(`/audit/sites/${site}`)).body;

  before(async () => {
    dir = tempDir('custodian-audit-api-');
    const store = knownSite(dir);
    otherStore = path.join(dir, 'other');
    writeFile(otherStore, 'mc/x/good.root', 100);
    age(otherStore);
    fs.writeFileSync(path.join(dir, 'other.tsv'), `/other/mc/x/good.root\t100\t${OLD}\n`);
    const configFile = writeConfig(
      dir,
      [
        `database: ${ctx.url}`,
        'logging: { level: silent }',
        'audit:',
        '  ignorePatterns: [/store/mc/unmerged/]',
        '  maxMissing: 10',
        '  maxOrphans: 10',
        '  reportsDir: ./reports',
        '  sites:',
        `    - { name: ${SITE}, storage: "file://${store}", directories: [mc], inventory: ./inventory.tsv }`,
        `    - { name: ${OTHER}, storage: "file://${otherStore}", directories: [mc], inventory: ./other.tsv }`,
        '',
      ].join('\n'),
    );
    const { config, source } = loadAppConfig({ file: configFile });
    app = await openApp({ config, source, logger: silentLogger() });
    await app.auth.addUser('olivia', 'operator', 'operator-password');
    await app.auth.addUser('victor', 'viewer', 'viewer-password');
    operator = { authorization: `Bearer ${(await app.auth.createToken('olivia', 'api test')).token}` };
    viewer = { authorization: `Bearer ${(await app.auth.createToken('victor', 'api test')).token}` };
    server = await buildHttpServer(app);
  });

  after(async () => {
    await server?.close();
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GET /audit/sites: every configured site, ready and dry, never audited', async () => {
    const { status, body } = await get<{ sites: SiteSummary[] }>('/audit/sites');
    assert.equal(status, 200);
    assert.deepEqual(
      body.sites.map((s) => [
        s.name,
        s.status,
        s.mode,
        s.haltRequested,
        s.lastRun,
        s.maxMissing,
        s.maxOrphans,
      ]),
      [
        [SITE, 'ready', 'dry', false, null, 10, 10],
        [OTHER, 'ready', 'dry', false, null, 10, 10],
      ],
    );
    assert.equal(body.sites[1]?.storage, `file://${otherStore}`);
  });

  it('GET /audit/sites/:site: the report; 404 for an unknown site, 400 for a bad name', async () => {
    const { status, body } = await get<SiteReport>(`/audit/sites/${SITE}`);
    assert.equal(status, 200);
    assert.deepEqual([body.name, body.status, body.runs, body.unlistedDirectories], [SITE, 'ready', [], []]);
    assert.deepEqual(errorOf(await get('/audit/sites/NOPE')), [404, 'AUDIT_UNKNOWN_SITE']);
    assert.deepEqual(errorOf(await get('/audit/sites/..%2Fetc')), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get(`/audit/sites/${SITE}/entries/bogus`)), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get(`/audit/sites/${SITE}/entries/orphan?format=xml`)), [
      400,
      'INPUT_INVALID',
    ]);
    assert.deepEqual(errorOf(await get('/audit/sites/NOPE/entries/orphan')), [404, 'AUDIT_UNKNOWN_SITE']);
    const never = await get<EntryList>(`/audit/sites/${SITE}/entries/orphan`);
    assert.equal(never.status, 200);
    assert.deepEqual([never.body.runId, never.body.entries], [null, []]);
    assert.match(never.body.reason ?? '', /not been audited/);
  });

  it('POST status, acted and runs: 401 without a login, 403 for a viewer, nothing done', async () => {
    const sitesBefore = await get('/audit/sites');
    const statsBefore = await app.queue.stats();
    const writes: [string, unknown][] = [
      [`/audit/sites/${SITE}/status`, { action: 'act' }],
      [`/audit/sites/${SITE}/entries/orphan/acted`, undefined],
      ['/audit/runs', { site: SITE }],
    ];
    for (const [url, payload] of writes) {
      assert.deepEqual(errorOf(await post(url, payload)), [401, 'AUTH_REQUIRED'], `${url} anonymous`);
      assert.deepEqual(errorOf(await post(url, payload, viewer)), [403, 'AUTH_FORBIDDEN'], `${url} viewer`);
      const badToken = await post(url, payload, { authorization: 'Bearer cst_not-a-token' });
      assert.equal(badToken.status, 401, `${url} with a bad token`);
      errorOf(badToken);
    }
    assert.deepEqual(await get('/audit/sites'), sitesBefore);
    assert.deepEqual(await app.queue.stats(), statsBefore, 'no job queued');
  });

  it('POST /audit/runs queues a job (202); running the queue records the run with the known answers', async () => {
    const queued = await post<{ queued: string }>('/audit/runs', { site: SITE }, operator);
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    assert.deepEqual(queued.body, { queued: SITE });
    assert.equal((await app.queue.stats()).pending, 1);
    assert.deepEqual((await report(SITE)).runs, [], 'queued, not run');

    await app.queue.runUntilIdle();
    assert.equal((await app.queue.stats()).pending, 0);
    const after = await report(SITE);
    assert.equal(after.runs.length, 1);
    const [run] = after.runs;
    assert.ok(run);
    assert.equal(run.outcome, 'ok', run.message ?? '');
    assert.deepEqual(
      [
        run.files,
        run.missing,
        run.missingBytes,
        run.orphans,
        run.orphanBytes,
        run.sizeMismatches,
        run.emptyDirs,
      ],
      [6, 1, 30, 1, 50, 1, 2],
    );
    assert.equal(after.status, 'ready');
    assert.deepEqual(after.lastRun, run);

    // Without a site the picking rule chooses: the site never audited.
    const next = await post<{ queued: string }>('/audit/runs', {}, operator);
    assert.deepEqual([next.status, next.body], [202, { queued: OTHER }]);
    await app.queue.runUntilIdle();
    const other = await report(OTHER);
    assert.deepEqual(
      other.runs.map((r) => [r.outcome, r.files, r.missing, r.orphans]),
      [['ok', 1, 0, 0]],
    );
  });

  it('GET entries: JSON by default, text/plain with one path per line; empty dirs deepest first', async () => {
    const orphans = await get<EntryList>(`/audit/sites/${SITE}/entries/orphan`);
    assert.equal(orphans.status, 200);
    assert.equal(orphans.body.kind, 'orphan');
    assert.equal(orphans.body.forAction, false);
    assert.match(orphans.body.reason ?? '', /dry mode/);
    assert.deepEqual(
      orphans.body.entries.map((e) => [e.path, e.actedAt]),
      [['/store/mc/b/orphan.root', null]],
    );

    const text = await server.inject({
      method: 'GET',
      url: `/api/v1/audit/sites/${SITE}/entries/empty?format=text`,
    });
    assert.equal(text.statusCode, 200);
    assert.match(String(text.headers['content-type']), /^text\/plain/);
    assert.match(String(text.headers['content-disposition']), new RegExp(`filename="${SITE}_empty.txt"`));
    assert.equal(text.body, '/store/mc/empty1/empty2/\n/store/mc/empty1/\n');
    const json = await get<EntryList>(`/audit/sites/${SITE}/entries/empty?format=json`);
    assert.deepEqual(
      json.body.entries.map((e) => e.path),
      ['/store/mc/empty1/empty2/', '/store/mc/empty1/'],
    );
    const mismatch = await server.inject({
      method: 'GET',
      url: `/api/v1/audit/sites/${SITE}/entries/size-mismatch?format=text`,
    });
    assert.equal(mismatch.body, '/store/mc/b/size.root\n');

    const missing = await get<EntryList>(`/audit/sites/${SITE}/entries/missing`);
    assert.deepEqual(missing.body.entries, []);
    assert.match(missing.body.reason ?? '', /second run/);
    const missingText = await server.inject({
      method: 'GET',
      url: `/api/v1/audit/sites/${SITE}/entries/missing?format=text`,
    });
    assert.deepEqual([missingText.statusCode, missingText.body], [200, '']);
  });

  it('POST acted: 409 in dry mode; after act and a second run, 200 with the acted-at time', async () => {
    assert.deepEqual(errorOf(await post(`/audit/sites/${SITE}/entries/orphan/acted`, undefined, operator)), [
      409,
      'AUDIT_NOT_FOR_ACTION',
    ]);
    assert.deepEqual(errorOf(await post(`/audit/sites/${SITE}/entries/missing/acted`, undefined, operator)), [
      409,
      'AUDIT_NOT_FOR_ACTION',
    ]);

    const act = await post<SiteSummary>(`/audit/sites/${SITE}/status`, { action: 'act' }, operator);
    assert.equal(act.status, 200, JSON.stringify(act.body));
    assert.deepEqual([act.body.name, act.body.status, act.body.mode], [SITE, 'ready', 'act']);
    // Missing files still need a second run.
    assert.deepEqual(errorOf(await post(`/audit/sites/${SITE}/entries/missing/acted`, undefined, operator)), [
      409,
      'AUDIT_NOT_FOR_ACTION',
    ]);

    assert.equal((await post('/audit/runs', { site: SITE }, operator)).status, 202);
    await app.queue.runUntilIdle();
    assert.equal((await report(SITE)).runs.length, 2);

    const before = Date.now();
    const acted = await post<EntryList>(`/audit/sites/${SITE}/entries/missing/acted`, undefined, operator);
    assert.equal(acted.status, 200, JSON.stringify(acted.body));
    assert.equal(acted.body.forAction, true);
    assert.ok(acted.body.actedAt !== null && Date.parse(acted.body.actedAt) >= before - 1000);
    assert.deepEqual(
      acted.body.entries.map((e) => [e.path, e.actedAt]),
      [['/store/mc/a/lost.root', acted.body.actedAt]],
    );
    const read = await get<EntryList>(`/audit/sites/${SITE}/entries/missing`);
    assert.equal(read.body.actedAt, null, 'a read records nothing');
    assert.equal(read.body.entries[0]?.actedAt, acted.body.actedAt, 'kept in the history');
  });

  it('POST status: halt, disable, ready and dry change the site; a halted site is not audited', async () => {
    const halted = await post<SiteSummary>(`/audit/sites/${OTHER}/status`, { action: 'halt' }, operator);
    assert.deepEqual([halted.status, halted.body.status], [200, 'halted']);
    const runsBefore = (await report(OTHER)).runs.length;
    // Queueing a site that is not ready is refused, and nothing is queued.
    assert.deepEqual(errorOf(await post('/audit/runs', { site: OTHER }, operator)), [
      409,
      'AUDIT_SITE_NOT_READY',
    ]);
    assert.equal((await app.queue.stats()).pending, 0);
    await app.queue.runUntilIdle();
    assert.equal((await report(OTHER)).runs.length, runsBefore);
    assert.equal((await report(OTHER)).status, 'halted');

    const disabled = await post<SiteSummary>(`/audit/sites/${SITE}/status`, { action: 'disable' }, operator);
    assert.equal(disabled.body.status, 'disabled');
    // Nothing is ready: the picking rule finds no site.
    assert.deepEqual(errorOf(await post('/audit/runs', {}, operator)), [404, 'AUDIT_NO_SITE_READY']);

    const ready = await post<SiteSummary>(`/audit/sites/${OTHER}/status`, { action: 'ready' }, operator);
    assert.equal(ready.body.status, 'ready');
    const dry = await post<SiteSummary>(`/audit/sites/${SITE}/status`, { action: 'dry' }, operator);
    assert.deepEqual([dry.body.status, dry.body.mode], ['disabled', 'dry']);
    await post(`/audit/sites/${SITE}/status`, { action: 'ready' }, operator);
    const { body } = await get<{ sites: SiteSummary[] }>('/audit/sites');
    assert.deepEqual(
      body.sites.map((s) => [s.name, s.status, s.mode]),
      [
        [SITE, 'ready', 'dry'],
        [OTHER, 'ready', 'dry'],
      ],
    );
  });

  it('bad bodies and parameters are 400 in the error wire format; unknown sites 404', async () => {
    const cases: [string, unknown][] = [
      [`/audit/sites/${SITE}/status`, { action: 'bogus' }],
      [`/audit/sites/${SITE}/status`, {}],
      [`/audit/sites/${SITE}/status`, { action: 1 }],
      [`/audit/sites/${SITE}/status`, undefined],
      ['/audit/sites/bad name/status', { action: 'ready' }],
      [`/audit/sites/${SITE}/entries/bogus/acted`, undefined],
      ['/audit/runs', { site: '../etc' }],
      ['/audit/runs', { site: 5 }],
      ['/audit/runs', undefined],
    ];
    for (const [url, payload] of cases) {
      const response = await post(url, payload, operator);
      assert.deepEqual(errorOf(response), [400, 'INPUT_INVALID'], `${url} ${JSON.stringify(payload)}`);
    }
    const invalidJson = await server.inject({
      method: 'POST',
      url: `/api/v1/audit/sites/${SITE}/status`,
      headers: { ...operator, 'content-type': 'application/json' },
      payload: '{"action":',
    });
    assert.equal(invalidJson.statusCode, 400);
    errorOf({ status: invalidJson.statusCode, body: invalidJson.json() });

    assert.deepEqual(errorOf(await post('/audit/sites/NOPE/status', { action: 'ready' }, operator)), [
      404,
      'AUDIT_UNKNOWN_SITE',
    ]);
    assert.deepEqual(errorOf(await post('/audit/sites/NOPE/entries/orphan/acted', undefined, operator)), [
      404,
      'AUDIT_UNKNOWN_SITE',
    ]);
    assert.deepEqual(errorOf(await post('/audit/runs', { site: 'NOPE' }, operator)), [
      404,
      'AUDIT_UNKNOWN_SITE',
    ]);
    assert.equal((await app.queue.stats()).pending, 0, 'nothing queued by a refused request');
  });
});
