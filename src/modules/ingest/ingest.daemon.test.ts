import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { IngestWatchDaemon } from './ingest.daemon.js';
import type { AlertSink, PassResult } from './ingest.types.js';

const EMPTY: PassResult = { moved: [], skipped: [], errors: [] };

function alerts(): AlertSink & { raised: string[]; resolved: string[] } {
  const raised: string[] = [];
  const resolved: string[] = [];
  return {
    raised,
    resolved,
    raise: (alert) => {
      raised.push(alert.code);
      return Promise.resolve();
    },
    resolve: (code, key) => {
      resolved.push(`${code} ${key ?? ''}`);
      return Promise.resolve();
    },
  };
}

describe('ingest watch daemon', () => {
  it('runs passes until the signal aborts, then returns after the current pass', async () => {
    const controller = new AbortController();
    let passes = 0;
    const daemon = new IngestWatchDaemon({
      service: {
        runPass: () => {
          passes++;
          if (passes === 3) controller.abort();
          return Promise.resolve(EMPTY);
        },
      },
      intervalSeconds: 0.001,
      alerts: alerts(),
      logger: silentLogger(),
    });
    assert.equal(daemon.name, 'ingest:watch');
    await daemon.start(controller.signal);
    assert.equal(passes, 3);
  });

  it('stops before the next pass when the kill file exists', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-kill-'));
    const killFile = path.join(dir, 'stop-ingest');
    try {
      let passes = 0;
      const daemon = new IngestWatchDaemon({
        service: {
          runPass: () => {
            passes++;
            if (passes === 2) fs.writeFileSync(killFile, '');
            return Promise.resolve(EMPTY);
          },
        },
        intervalSeconds: 0.001,
        killFile,
        alerts: alerts(),
        logger: silentLogger(),
      });
      await daemon.start(new AbortController().signal);
      assert.equal(passes, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('alerts on a failed pass and goes on with the next one', async () => {
    const controller = new AbortController();
    const sink = alerts();
    let passes = 0;
    const daemon = new IngestWatchDaemon({
      service: {
        runPass: () => {
          passes++;
          if (passes === 1) return Promise.reject(new Error('database is down'));
          controller.abort();
          return Promise.resolve(EMPTY);
        },
      },
      intervalSeconds: 0.001,
      alerts: sink,
      logger: silentLogger(),
    });
    await daemon.start(controller.signal);
    assert.equal(passes, 2);
    assert.deepEqual(sink.raised, ['INGEST_PASS_FAILED']);
    assert.deepEqual(sink.resolved, ['INGEST_PASS_FAILED ingest:watch']);
  });
});
