// The transfer API through the real app (openApp + buildHttpServer: the real auth plugin, the
// error wire format, the real transfer module with rsync and tar) on every database dialect.
// Reads are public; verify, catchup and archive need an operator (bearer token or login session).
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeEachDialect } from '../../helpers/database.js';
import { tempDir, writeConfig } from '../../helpers/cli.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp, type App } from '../../../src/app/app.js';
import { buildHttpServer } from '../../../src/app/server.js';
import type { HttpServer } from '../../../src/core/http/api.js';
import { silentLogger } from '../../../src/core/logger.js';
import type {
  ArchiveResult,
  CatchupResult,
  ExposureHistory,
  TransferStatusPage,
} from '../../../src/modules/transfer/index.js';
import type { VerifyResult } from '../../../src/modules/transfer/verify.service.js';
import { defaultFiles, snapshotTree, writeExposure, writeManifest } from './transfer-fixture.js';

const STREAM = 'desi_spectro_data';
const AUX = 'desi_aux';
const N1 = '20240315';
const N2 = '20240316';
const N3 = '20240317';
const PASSWORD = 'operator-password';

interface ErrorBody {
  error: { code: string; message: string };
}

type Headers = Record<string, string>;

describeEachDialect('transfer API', (ctx) => {
  let dir: string;
  let app: App;
  let server: HttpServer;
  let operator: Headers;
  let viewer: Headers;
  let session: Headers;

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
    return [response.status, body.error.code];
  };

  before(async () => {
    dir = tempDir('custodian-transfer-api-');
    const source = path.join(dir, 'source');
    writeExposure(source, { night: N1, exposure: '00000001' });
    writeExposure(source, { night: N1, exposure: '00000002' });
    writeExposure(source, { night: N1, exposure: '00000010' });
    writeExposure(source, { night: N2, exposure: '00000003', corrupt: ['guide 00000003.fits'] });
    writeExposure(source, { night: N3, exposure: '00000004' });
    writeExposure(path.join(dir, 'aux-source'), { night: N1, exposure: '00000050' });
    const configFile = writeConfig(
      dir,
      [
        `database: ${ctx.url}`,
        'logging: { level: silent }',
        'transfer:',
        // Far from the nights above: a pass's catch-up and archive of "yesterday" never touch them.
        '  catchupHour: 23',
        '  archiveHour: 23',
        '  streams:',
        `    - { name: ${STREAM}, source: ./source, staging: ./staging, destination: ./spectro, archive: ./archive }`,
        `    - { name: ${AUX}, source: ./aux-source, staging: ./aux-staging, destination: ./aux, archive: ./aux-archive }`,
        '',
      ].join('\n'),
    );
    const { config, source: configSource } = loadAppConfig({ file: configFile });
    app = await openApp({ config, source: configSource, logger: silentLogger() });
    await app.auth.addUser('olivia', 'operator', PASSWORD);
    await app.auth.addUser('victor', 'viewer', 'viewer-password');
    operator = { authorization: `Bearer ${(await app.auth.createToken('olivia', 'api test')).token}` };
    viewer = { authorization: `Bearer ${(await app.auth.createToken('victor', 'api test')).token}` };
    await app.requireTransfer().runPass();
    server = await buildHttpServer(app);

    const login = await server.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'olivia', password: PASSWORD },
      remoteAddress: `10.0.0.${randomBytes(1)[0]}`,
    });
    assert.equal(login.statusCode, 200, login.body);
    const cookie = login.cookies.find((c) => c.name === 'custodian_session');
    assert.ok(cookie, 'login sets the session cookie');
    session = { cookie: `${cookie.name}=${cookie.value}` };
  });

  after(async () => {
    await server?.close();
    await app?.close();
    spawnSync('chmod', ['-R', 'u+w', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GET /transfer/status: nights newest first, each with its state and exposures', async () => {
    const { status, body } = await get<TransferStatusPage>('/transfer/status');
    assert.equal(status, 200);
    assert.deepEqual(body.streams, [STREAM, AUX]);
    assert.deepEqual(
      body.nights.map((n) => [n.night, n.stream, n.state, n.failed, n.archived, n.exposures.length]),
      [
        [N3, STREAM, 'green', 0, false, 1],
        [N2, STREAM, 'red', 1, false, 1],
        [N1, AUX, 'green', 0, false, 1],
        [N1, STREAM, 'green', 0, false, 3],
      ],
    );
    const n1 = body.nights.find((n) => n.night === N1 && n.stream === STREAM);
    assert.deepEqual(
      n1?.exposures.map((e) => e.exposure),
      ['00000001', '00000002', '00000010'],
    );
    const bad = body.nights.find((n) => n.night === N2)?.exposures[0];
    assert.equal(bad?.checksum?.ok, false);
    assert.match(bad?.checksum?.message ?? '', /checksum mismatch: guide 00000003\.fits/);
    assert.equal(bad?.publish?.ok, true);
    assert.equal(bad?.backup, null);
  });

  it('GET /transfer/status: the nights limit, the stream and night filters, 400 and 404 in the error format', async () => {
    const newest = await get<TransferStatusPage>('/transfer/status?nights=2');
    assert.equal(newest.status, 200);
    assert.deepEqual(
      newest.body.nights.map((n) => n.night),
      [N3, N2],
    );
    const all = await get<TransferStatusPage>('/transfer/status?nights=0');
    assert.deepEqual(
      all.body.nights.map((n) => n.night),
      [N3, N2, N1, N1],
    );
    const aux = await get<TransferStatusPage>(`/transfer/status?stream=${AUX}`);
    assert.deepEqual(
      aux.body.nights.map((n) => [n.stream, n.night]),
      [[AUX, N1]],
    );
    const oneNight = await get<TransferStatusPage>(`/transfer/status?night=${N1}&stream=${STREAM}`);
    assert.deepEqual(
      oneNight.body.nights.map((n) => [n.stream, n.night, n.exposures.length]),
      [[STREAM, N1, 3]],
    );
    const empty = await get<TransferStatusPage>('/transfer/status?night=20200101');
    assert.deepEqual([empty.status, empty.body.nights], [200, []]);

    assert.deepEqual(errorOf(await get('/transfer/status?night=2026')), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get('/transfer/status?nights=-1')), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get('/transfer/status?nights=many')), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get('/transfer/status?stream=no such')), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get('/transfer/status?stream=nope')), [404, 'TRANSFER_UNKNOWN_STREAM']);
  });

  it('GET /transfer/status/:stream/:night/:exposure: the latest state and every attempt; 404 and 400', async () => {
    const { status, body } = await get<ExposureHistory>(`/transfer/status/${STREAM}/${N2}/00000003`);
    assert.equal(status, 200);
    assert.deepEqual([body.stream, body.night, body.exposure], [STREAM, N2, '00000003']);
    assert.equal(body.checksum?.ok, false);
    assert.deepEqual(
      body.history.map((a) => [a.stage, a.ok]),
      [
        ['rsync', true],
        ['checksum', false],
        ['publish', true],
      ],
    );
    assert.ok(body.history.every((a) => new Date(a.at).toISOString() === a.at));

    assert.deepEqual(errorOf(await get(`/transfer/status/${STREAM}/${N2}/00000099`)), [
      404,
      'TRANSFER_EXPOSURE_NOT_FOUND',
    ]);
    assert.deepEqual(errorOf(await get(`/transfer/status/${AUX}/${N2}/00000003`)), [
      404,
      'TRANSFER_EXPOSURE_NOT_FOUND',
    ]);
    assert.deepEqual(errorOf(await get(`/transfer/status/${STREAM}/${N2}/3`)), [400, 'INPUT_INVALID']);
    assert.deepEqual(errorOf(await get(`/transfer/status/${STREAM}/2026/00000003`)), [400, 'INPUT_INVALID']);
  });

  it('POST verify, catchup and archive: 401 without a login, 403 for a viewer, nothing done', async () => {
    const treeBefore = snapshotTree(dir);
    const historyBefore = await get<ExposureHistory>(`/transfer/status/${STREAM}/${N2}/00000003`);
    const bodies: [string, unknown][] = [
      ['/transfer/verify', { stream: STREAM, night: N2, exposure: '00000003' }],
      ['/transfer/catchup', { stream: STREAM, night: N1 }],
      ['/transfer/archive', { stream: STREAM, night: N1 }],
    ];
    for (const [url, payload] of bodies) {
      assert.deepEqual(errorOf(await post(url, payload)), [401, 'AUTH_REQUIRED'], `${url} anonymous`);
      const forbidden = await post(url, payload, viewer);
      assert.equal(forbidden.status, 403, `${url} as a viewer`);
      errorOf(forbidden);
      const badToken = await post(url, payload, { authorization: 'Bearer cst_not-a-token' });
      assert.equal(badToken.status, 401, `${url} with a bad token`);
    }
    assert.deepEqual(snapshotTree(dir), treeBefore);
    assert.deepEqual(await get(`/transfer/status/${STREAM}/${N2}/00000003`), historyBefore);
  });

  it('POST /transfer/verify as an operator re-verifies a published exposure and records the checksum', async () => {
    // The operator fixed the manifest of the exposure whose checksum failed.
    const published = path.join(dir, 'spectro', N2, '00000003');
    fs.chmodSync(published, 0o2750);
    fs.chmodSync(path.join(published, 'checksum-00000003.sha256sum'), 0o640);
    writeManifest(published, '00000003', defaultFiles('00000003'));

    const { status, body } = await post<{
      stream: string;
      night: string;
      exposure: string;
      result: VerifyResult;
    }>('/transfer/verify', { stream: STREAM, night: N2, exposure: '00000003' }, operator);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual([body.stream, body.night, body.exposure], [STREAM, N2, '00000003']);
    assert.deepEqual(body.result, {
      ok: true,
      verified: 3,
      bytes: Object.values(defaultFiles('00000003')).reduce((sum, content) => sum + content.length, 0),
      missing: [],
      unlisted: [],
      mismatched: [],
      malformed: [],
    });
    const history = await get<ExposureHistory>(`/transfer/status/${STREAM}/${N2}/00000003`);
    assert.equal(history.body.checksum?.ok, true);
    assert.deepEqual(
      history.body.history.filter((a) => a.stage === 'checksum').map((a) => a.ok),
      [false, true],
    );
    const page = await get<TransferStatusPage>(`/transfer/status?night=${N2}`);
    assert.equal(page.body.nights[0]?.state, 'green');

    // A failing verification is recorded too, through a login session this time.
    fs.chmodSync(path.join(published, `guide 00000003.fits`), 0o640);
    fs.writeFileSync(path.join(published, `guide 00000003.fits`), 'tampered\n');
    const failed = await post<{ result: VerifyResult }>(
      '/transfer/verify',
      { stream: STREAM, night: N2, exposure: '00000003' },
      session,
    );
    assert.equal(failed.status, 200);
    assert.deepEqual(
      [failed.body.result.ok, failed.body.result.mismatched],
      [false, ['guide 00000003.fits']],
    );
    const after = await get<ExposureHistory>(`/transfer/status/${STREAM}/${N2}/00000003`);
    assert.equal(after.body.checksum?.ok, false);

    assert.deepEqual(
      errorOf(await post('/transfer/verify', { stream: STREAM, night: N2, exposure: '00000077' }, operator)),
      [404, 'TRANSFER_EXPOSURE_NOT_PUBLISHED'],
    );
  });

  it('POST /transfer/catchup: dryRun lists the late file and changes nothing; then it is synced', async () => {
    const sourceDir = path.join(dir, 'source', N1, '00000002');
    const files = { ...defaultFiles('00000002'), 'late.fits': 'late\n' };
    fs.writeFileSync(path.join(sourceDir, 'late.fits'), files['late.fits']);
    writeManifest(sourceDir, '00000002', files);

    const treeBefore = snapshotTree(path.join(dir, 'spectro'));
    const dry = await post<CatchupResult>(
      '/transfer/catchup',
      { stream: STREAM, night: N1, dryRun: true },
      operator,
    );
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.dryRun, true);
    assert.equal(dry.body.action, 'would-sync');
    assert.deepEqual(
      dry.body.exposures.map((e) => [e.exposure, e.changed]),
      [['00000002', ['checksum-00000002.sha256sum', 'late.fits']]],
    );
    assert.deepEqual(snapshotTree(path.join(dir, 'spectro')), treeBefore, 'dryRun changed nothing');

    const real = await post<CatchupResult>('/transfer/catchup', { stream: STREAM, night: N1 }, operator);
    assert.equal(real.status, 200);
    assert.equal(real.body.action, 'synced');
    assert.deepEqual(
      real.body.exposures.map((e) => [e.exposure, e.verify?.ok]),
      [['00000002', true]],
    );
    assert.equal(fs.readFileSync(path.join(dir, 'spectro', N1, '00000002', 'late.fits'), 'utf8'), 'late\n');
    const again = await post<CatchupResult>('/transfer/catchup', { stream: STREAM, night: N1 }, operator);
    assert.equal(again.body.action, 'nothing-changed');
  });

  it('POST /transfer/archive archives the night and records backup; a second call finds it archived', async () => {
    const first = await post<ArchiveResult>('/transfer/archive', { stream: STREAM, night: N1 }, operator);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.action, 'archived', first.body.message);
    assert.deepEqual(first.body.exposures, ['00000001', '00000002', '00000010']);
    assert.equal(first.body.tar, path.join(dir, 'archive', `${STREAM}_${N1}.tar`));
    assert.ok(fs.existsSync(first.body.tar));
    assert.ok(fs.existsSync(first.body.index));
    const listing = spawnSync('tar', ['-tf', first.body.tar], { encoding: 'utf8' });
    assert.equal(listing.status, 0);
    assert.ok(listing.stdout.includes(`${N1}/00000002/late.fits`));

    const page = await get<TransferStatusPage>(`/transfer/status?stream=${STREAM}&night=${N1}`);
    const night = page.body.nights[0];
    assert.equal(night?.archived, true);
    assert.ok(night?.archiveAt !== null);
    assert.ok(night?.exposures.every((e) => e.backup?.ok === true));

    const second = await post<ArchiveResult>('/transfer/archive', { stream: STREAM, night: N1 }, session);
    assert.equal(second.status, 200);
    assert.equal(second.body.action, 'already-archived');

    const dry = await post<ArchiveResult>(
      '/transfer/archive',
      { stream: AUX, night: N1, dryRun: true },
      operator,
    );
    assert.equal(dry.body.action, 'would-archive');
    assert.equal(fs.existsSync(path.join(dir, 'aux-archive')), false, 'dryRun wrote no archive');
  });

  it('a bad body is 400 in the error wire format; an unknown stream is 404', async () => {
    const cases: [string, unknown][] = [
      ['/transfer/verify', { stream: STREAM, night: N1 }],
      ['/transfer/verify', { stream: STREAM, night: '2026', exposure: '00000001' }],
      ['/transfer/verify', { stream: STREAM, night: N1, exposure: 1 }],
      ['/transfer/catchup', { stream: STREAM, night: N1, dryRun: 'yes' }],
      ['/transfer/catchup', { stream: STREAM }],
      ['/transfer/archive', { stream: '../etc', night: N1 }],
      ['/transfer/archive', undefined],
    ];
    for (const [url, payload] of cases) {
      const response = await post(url, payload, operator);
      assert.deepEqual(errorOf(response), [400, 'INPUT_INVALID'], `${url} ${JSON.stringify(payload)}`);
    }
    const invalidJson = await server.inject({
      method: 'POST',
      url: '/api/v1/transfer/catchup',
      headers: { ...operator, 'content-type': 'application/json' },
      payload: '{"stream":',
    });
    assert.equal(invalidJson.statusCode, 400);
    errorOf({ status: invalidJson.statusCode, body: invalidJson.json() });

    for (const url of ['/transfer/catchup', '/transfer/archive']) {
      assert.deepEqual(errorOf(await post(url, { stream: 'nope', night: N1 }, operator)), [
        404,
        'TRANSFER_UNKNOWN_STREAM',
      ]);
    }
    assert.deepEqual(
      errorOf(await post('/transfer/verify', { stream: 'nope', night: N1, exposure: '00000001' }, operator)),
      [404, 'TRANSFER_UNKNOWN_STREAM'],
    );
  });
});
