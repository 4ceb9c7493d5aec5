import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { INGEST_PASS_TASK, ingestTasks } from './ingest.jobs.js';
import type { IngestService } from './ingest.service.js';

describe('ingest jobs', () => {
  it('ingest:pass takes an empty payload and runs one pass', async () => {
    let passes = 0;
    const service = {
      runPass: () => Promise.resolve({ moved: [], skipped: [], errors: [], n: ++passes }),
    } as unknown as IngestService;
    const [task] = ingestTasks(() => service);
    assert.ok(task);
    assert.equal(task.name, INGEST_PASS_TASK);
    assert.equal(task.name, 'ingest:pass');
    assert.deepEqual(task.schema.parse({}), {});
    assert.equal(task.schema.safeParse('not an object').success, false);
    await task.handler({}, { jobId: '1', attempt: 1, signal: new AbortController().signal });
    assert.equal(passes, 1);
  });
});
