import { it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { installErrorHandler } from '../../../src/core/http/error-mapping.js';
import fastifyMultipart from '@fastify/multipart';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { describeEachDialect } from '../../helpers/database.js';
import { ROLES, type Role } from '../../../src/core/auth/roles.js';
import { ingestRoutes, type IngestServiceConfig } from '../../../src/modules/ingest/index.js';
import {
  ROOT_FIXTURE,
  buildService,
  dropFile,
  makeWorkspace,
  resetTables,
  sha256,
  tree,
  type Workspace,
} from './ingest-fixture.js';

const ROOT_BYTES = fs.readFileSync(ROOT_FIXTURE);

interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * A minimal server like the real one (zod compilers, multipart, the error wire format, request.user
 * from the auth plugin — here from an `x-test-role` header), with the ingest routes under /api/v1.
 */
async function startServer(
  ws: Workspace,
  database: Parameters<typeof buildService>[0],
  config: Partial<IngestServiceConfig> = {},
) {
  const harness = buildService(database, ws, { config, clock: () => Date.now() + 3_600_000 });
  const app = Fastify().withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  await app.register(fastifyMultipart, { limits: { fileSize: 256 * 1024 * 1024 } });
  app.addHook('onRequest', (request, _reply, done) => {
    const role = request.headers['x-test-role'];
    if (typeof role === 'string' && (ROLES as readonly string[]).includes(role)) {
      request.user = { name: `test-${role}`, role: role as Role, via: 'token' };
    }
    done();
  });
  await app.register(ingestRoutes, { prefix: '/api/v1', service: harness.service });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  return { ...harness, app, origin };
}

type Server = Awaited<ReturnType<typeof startServer>>;

function form(parts: {
  file?: Buffer | null;
  run?: string;
  timestamp?: string;
  agent?: string;
  fileLast?: boolean;
}): FormData {
  const data = new FormData();
  const addFile = () => {
    if (parts.file !== undefined && parts.file !== null)
      data.append('file', new Blob([parts.file]), 'histos.root');
  };
  if (!parts.fileLast) addFile();
  if (parts.run !== undefined) data.append('run', parts.run);
  if (parts.timestamp !== undefined) data.append('timestamp', parts.timestamp);
  if (parts.agent !== undefined) data.append('agent', parts.agent);
  if (parts.fileLast) addFile();
  return data;
}

const good = { run: '300005', timestamp: '1448384710', agent: 'EMC' };

async function upload(server: Server, body: FormData | string, role: Role | null = 'operator') {
  const headers: Record<string, string> = {};
  if (role) headers['x-test-role'] = role;
  if (typeof body === 'string') headers['content-type'] = 'application/json';
  const response = await fetch(`${server.origin}/api/v1/ingest/uploads`, { method: 'POST', body, headers });
  const json: unknown = await response.json();
  return { status: response.status, body: json };
}

describeEachDialect('ingest routes', (ctx) => {
  let ws: Workspace;
  let server: Server;
  before(async () => {
    ws = makeWorkspace();
    server = await startServer(ws, ctx.database, { maxUploadBytes: 64 * 1024 });
  });
  after(async () => {
    await server.app.close();
    ws.cleanup();
  });
  beforeEach(async () => {
    await resetTables(ctx.database);
    fs.rmSync(ws.dropDir, { recursive: true, force: true });
    fs.rmSync(ws.dataDir, { recursive: true, force: true });
    fs.mkdirSync(ws.dropDir);
    fs.mkdirSync(ws.dataDir);
  });

  it('GET /ingest/runs and /ingest/runs/:run answer in the API shape', async () => {
    dropFile(ws, 'EMChistos_300005_C_2015_11_24_18_05_10.root', 'a');
    dropFile(ws, 'HLThistos_300005_C_2015_11_24_18_07_10.root', 'bb');
    dropFile(ws, 'EMChistos_300004_E_2015_11_24_17_05_10.root', 'ccc');
    await server.service.runPass();
    const list = await fetch(`${server.origin}/api/v1/ingest/runs?limit=1`);
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), {
      items: [
        {
          run: 300005,
          mode: 'C',
          replay: false,
          firstFileAt: '2015-11-24T17:05:10.000Z',
          lastFileAt: '2015-11-24T17:07:10.000Z',
          lengthMinutes: 3,
          files: { EMC: 1, HLT: 1 },
        },
      ],
      total: 2,
    });
    const second = (await (await fetch(`${server.origin}/api/v1/ingest/runs?limit=1&offset=1`)).json()) as {
      items: { run: number; replay: boolean }[];
    };
    assert.deepEqual(
      second.items.map((r) => [r.run, r.replay]),
      [[300004, true]],
    );
    const detail = await fetch(`${server.origin}/api/v1/ingest/runs/300005`);
    assert.equal(detail.status, 200);
    const body = (await detail.json()) as { subsystems: unknown; files: unknown };
    assert.deepEqual(body.files, { EMC: 1, HLT: 1 });
    assert.deepEqual(body.subsystems, {
      EMC: [{ timestamp: 1448384710, size: 1, path: 'Run300005/EMC/EMChists.2015_11_24_18_05_10.root' }],
      HLT: [{ timestamp: 1448384830, size: 2, path: 'Run300005/HLT/HLThists.2015_11_24_18_07_10.root' }],
    });
    const missing = await fetch(`${server.origin}/api/v1/ingest/runs/42`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as ErrorBody).error.code, 'INGEST_RUN_NOT_FOUND');
    assert.equal((await fetch(`${server.origin}/api/v1/ingest/runs/abc`)).status, 400);
    assert.equal((await fetch(`${server.origin}/api/v1/ingest/runs?limit=0`)).status, 400);
  });

  it('POST /ingest/passes needs an operator and answers like `ingest once --json`', async () => {
    dropFile(ws, 'EMChistos_1_C_2015_11_24_18_05_10.root', 'x');
    const anonymous = await fetch(`${server.origin}/api/v1/ingest/passes`, { method: 'POST' });
    assert.equal(anonymous.status, 401);
    const viewer = await fetch(`${server.origin}/api/v1/ingest/passes`, {
      method: 'POST',
      headers: { 'x-test-role': 'viewer' },
    });
    assert.equal(viewer.status, 403);
    assert.deepEqual(Object.keys(tree(ws.dataDir)), []);
    const operator = await fetch(`${server.origin}/api/v1/ingest/passes`, {
      method: 'POST',
      headers: { 'x-test-role': 'operator' },
    });
    assert.equal(operator.status, 200);
    assert.deepEqual(await operator.json(), {
      moved: [
        {
          source: 'EMChistos_1_C_2015_11_24_18_05_10.root',
          target: 'Run1/EMC/EMChists.2015_11_24_18_05_10.root',
          run: 1,
          subsystem: 'EMC',
          mode: 'C',
          timestamp: 1448384710,
        },
      ],
      skipped: [],
      errors: [],
    });
  });

  it('stores a valid ROOT upload in the drop directory, where the next pass organizes it', async () => {
    const response = await upload(server, form({ file: ROOT_BYTES, ...good }));
    assert.equal(response.status, 201);
    assert.deepEqual(response.body, {
      stored: 'EMChistos_300005_DQM_2015_11_24_18_05_10.root',
      size: ROOT_BYTES.length,
    });
    assert.deepEqual(tree(ws.dropDir), {
      'EMChistos_300005_DQM_2015_11_24_18_05_10.root': sha256(ROOT_BYTES),
    });

    // the same upload again is harmless; different bytes under the same name are a conflict
    assert.equal((await upload(server, form({ file: ROOT_BYTES, ...good }))).status, 201);
    const other = Buffer.from(ROOT_BYTES);
    other[other.length - 1] = (other[other.length - 1] ?? 0) ^ 0xff; // still readable: the last byte is in the last record
    const conflict = await upload(server, form({ file: other, ...good }));
    assert.equal(conflict.status, 409, JSON.stringify(conflict.body));
    assert.equal((conflict.body as ErrorBody).error.code, 'INGEST_UPLOAD_EXISTS');

    const pass = await server.service.runPass();
    assert.deepEqual(
      pass.moved.map((m) => [m.target, m.mode]),
      [['Run300005/EMC/EMChists.2015_11_24_18_05_10.root', 'DQM']],
    );
    assert.equal((await server.service.getRun(300005)).mode, 'DQM');
  });

  it('accepts the fields after the file part too', async () => {
    const response = await upload(server, form({ file: ROOT_BYTES, ...good, agent: 'TPC', fileLast: false }));
    assert.equal(response.status, 201);
    const late = await upload(server, form({ file: ROOT_BYTES, ...good, agent: 'HLT', fileLast: true }));
    assert.equal(late.status, 201, JSON.stringify(late.body));
    assert.deepEqual(Object.keys(tree(ws.dropDir)).sort(), [
      'HLThistos_300005_DQM_2015_11_24_18_05_10.root',
      'TPChistos_300005_DQM_2015_11_24_18_05_10.root',
    ]);
  });

  const refused: [string, () => FormData | string, number, string, RegExp][] = [
    ['an empty file', () => form({ file: Buffer.alloc(0), ...good }), 400, 'INGEST_UPLOAD_EMPTY', /empty/],
    [
      'a truncated ROOT file',
      () => form({ file: ROOT_BYTES.subarray(0, 2000), ...good }),
      400,
      'INGEST_UPLOAD_CORRUPT',
      /truncated/,
    ],
    [
      'random bytes',
      () => form({ file: randomBytes(4000), ...good }),
      400,
      'INGEST_UPLOAD_NOT_ROOT',
      /not a ROOT file/,
    ],
    [
      'random bytes behind the ROOT signature',
      () => form({ file: Buffer.concat([Buffer.from('root'), randomBytes(4000)]), ...good }),
      400,
      'INGEST_UPLOAD_CORRUPT',
      /corrupt ROOT file/,
    ],
    [
      'a ROOT file with a damaged key list',
      () => {
        const damaged = Buffer.from(ROOT_BYTES);
        for (let i = 100; i < damaged.length; i += 3) damaged[i] = (damaged[i] ?? 0) ^ 0x5a;
        return form({ file: damaged, ...good });
      },
      400,
      'INGEST_UPLOAD_CORRUPT',
      /corrupt ROOT file/,
    ],
    [
      'a text file',
      () => form({ file: Buffer.from('{"not": "root"}'), ...good }),
      400,
      'INGEST_UPLOAD_NOT_ROOT',
      /not a ROOT file/,
    ],
    [
      'a file above ingest.maxUploadBytes',
      () => form({ file: Buffer.concat([ROOT_BYTES, Buffer.alloc(64 * 1024)]), ...good }),
      400,
      'INGEST_UPLOAD_TOO_LARGE',
      /maxUploadBytes/,
    ],
    [
      'a run that is not an integer',
      () => form({ file: ROOT_BYTES, ...good, run: '12a' }),
      400,
      'INGEST_UPLOAD_BAD_FIELD',
      /run must be a non-negative integer/,
    ],
    [
      'a timestamp with a fraction',
      () => form({ file: ROOT_BYTES, ...good, timestamp: '1448384710.5' }),
      400,
      'INGEST_UPLOAD_BAD_FIELD',
      /timestamp must be/,
    ],
    [
      'a missing agent',
      () => form({ file: ROOT_BYTES, run: good.run, timestamp: good.timestamp }),
      400,
      'INGEST_UPLOAD_BAD_FIELD',
      /agent is required/,
    ],
    [
      'an unknown agent',
      () => form({ file: ROOT_BYTES, ...good, agent: 'XYZ' }),
      400,
      'INGEST_UPLOAD_BAD_AGENT',
      /not a configured subsystem \(EMC, HLT, TPC\)/,
    ],
    ['no file', () => form({ ...good }), 400, 'INGEST_UPLOAD_NO_FILE', /no file/],
    ['a JSON body', () => JSON.stringify(good), 400, 'INGEST_UPLOAD_BAD_FORM', /multipart\/form-data/],
  ];
  for (const [what, body, status, code, message] of refused) {
    it(`refuses ${what} with ${status} ${code} and stores nothing`, async () => {
      const response = await upload(server, body());
      assert.equal(response.status, status, JSON.stringify(response.body));
      const error = (response.body as ErrorBody).error;
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      assert.deepEqual(tree(ws.dropDir), {});
    });
  }

  it('refuses uploads without the operator role', async () => {
    assert.equal((await upload(server, form({ file: ROOT_BYTES, ...good }), null)).status, 401);
    assert.equal((await upload(server, form({ file: ROOT_BYTES, ...good }), 'viewer')).status, 403);
    assert.equal((await upload(server, form({ file: ROOT_BYTES, ...good }), 'admin')).status, 201);
    assert.deepEqual(Object.keys(tree(ws.dropDir)), ['EMChistos_300005_DQM_2015_11_24_18_05_10.root']);
    assert.ok(path.isAbsolute(ws.dropDir));
  });
});
