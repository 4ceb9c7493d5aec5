import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startCli, tempDir, writeConfig } from '../../helpers/cli.js';
import { createTestDatabase, dialectsUnderTest, isPostgresReachable } from '../../helpers/database.js';
import { requirement } from '../../helpers/environment.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp } from '../../../src/app/app.js';
import { silentLogger } from '../../../src/core/logger.js';
import { INGEST_PASS_TASK } from '../../../src/modules/ingest/index.js';

// `custodian worker` takes queued jobs (graphile-worker on PostgreSQL, the jobs table on SQLite):
// a job enqueued by another process is executed, and SIGTERM stops the worker cleanly.
for (const dialect of dialectsUnderTest()) {
  describe(`custodian worker [${dialect}]`, async () => {
    if (dialect === 'postgres' && requirement(await isPostgresReachable(), 'PostgreSQL on 127.0.0.1:5432'))
      return;
    const dir = tempDir();
    const db = await createTestDatabase(dialect);
    after(async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      await db.drop();
    });

    test('executes an ingest:pass job enqueued elsewhere and stops on SIGTERM', async () => {
      const file = writeConfig(
        dir,
        `database: ${db.url}\nlogging: { level: info }\ningest: { dropDir: ./in, dataDir: ./data, subsystems: [EMC], settleSeconds: 0 }\n`,
      );
      fs.mkdirSync(path.join(dir, 'in'));
      fs.writeFileSync(path.join(dir, 'in', 'EMChistos_300005_C_2015_11_24_18_05_10.root'), 'histograms');

      const { config, source } = loadAppConfig({ file });
      const app = await openApp({ config, source, logger: silentLogger() });
      try {
        await app.queue.enqueue(INGEST_PASS_TASK, {});
      } finally {
        await app.close();
      }

      const worker = startCli(['worker', '--concurrency', '2'], { cwd: dir, readyWhen: /worker started/ });
      await worker.ready;
      const target = path.join(dir, 'data', 'Run300005', 'EMC', 'EMChists.2015_11_24_18_05_10.root');
      const deadline = Date.now() + 30_000;
      while (!fs.existsSync(target) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(fs.existsSync(target), 'the worker ran the queued pass');
      worker.child.kill('SIGTERM');
      const result = await worker.exited;
      assert.equal(result.code, 0, result.stderr);
    });
  });
}
