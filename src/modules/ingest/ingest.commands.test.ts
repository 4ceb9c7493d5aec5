import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { createOutput } from '../../core/cli/output.js';
import { InputError } from '../../core/errors.js';
import { registerIngestCommands } from './ingest.commands.js';
import type { IngestService } from './ingest.service.js';
import type { PassResult, RunPage } from './ingest.types.js';

function run(argv: string[], service: Partial<IngestService> = {}, timezone?: string) {
  let stdout = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout += chunk.toString();
      done();
    },
  });
  const program = new Command('custodian').exitOverride();
  registerIngestCommands(program, {
    service: () => Promise.resolve(service as IngestService),
    watch: () => Promise.resolve(),
    output: (options) => createOutput(options, sink),
    timezone: () => timezone,
  });
  return program.parseAsync(['node', 'custodian', 'ingest', ...argv]).then(() => stdout);
}

describe('ingest commands', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('parse-name --json prints exactly the explanation', async () => {
    const out = await run(['parse-name', 'EMChistos_300005_C_2015_11_24_18_05_10.root', '--json']);
    assert.deepEqual(JSON.parse(out), {
      kind: 'unprocessed',
      subsystem: 'EMC',
      run: 300005,
      mode: 'C',
      timestamp: 1448384710,
    });
    const combined = await run(['parse-name', 'hists.combined.1.1448388552.root', '--json']);
    assert.deepEqual(JSON.parse(combined), { kind: 'combined', timestamp: 1448388552 });
  });

  it('parse-name uses --timezone, else the configured zone, else Europe/Zurich', async () => {
    const name = 'EMChistos_1_C_2015_11_24_18_05_10.root';
    const timestamp = async (argv: string[], zone?: string) =>
      (JSON.parse(await run(argv, {}, zone)) as { timestamp: number }).timestamp;
    assert.equal(await timestamp(['parse-name', name, '--json', '--timezone', 'UTC']), 1448388310);
    assert.equal(await timestamp(['parse-name', name, '--json'], 'UTC'), 1448388310);
    assert.equal(await timestamp(['parse-name', name, '--json']), 1448384710);
  });

  it('parse-name explains in words without --json and refuses anything else with InputError', async () => {
    const human = await run(['parse-name', 'timeSlice.100.160.abc.root']);
    assert.match(human, /kind\s+timeSlice/);
    assert.match(human, /duration\s+60 s/);
    await assert.rejects(
      run(['parse-name', 'EMChistos_1_C_2015_13_24_18_05_10.root', '--json']),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /month 13/);
        return true;
      },
    );
  });

  it('once prints the pass result and sets exit code 1 when files failed', async () => {
    const result: PassResult = {
      moved: [],
      skipped: [{ source: '.x', reason: 'dot-file' }],
      errors: [{ source: 'EMChistos_1_C_2015_11_24_18_05_10.root', message: 'permission denied' }],
    };
    const out = await run(['once', '--json'], { runPass: () => Promise.resolve(result) });
    assert.deepEqual(JSON.parse(out), result);
    assert.equal(process.exitCode, 1);
    process.exitCode = undefined;
    const human = await run(['once'], {
      runPass: () => Promise.resolve({ moved: [], skipped: [], errors: [] }),
    });
    assert.equal(human, 'moved 0, skipped 0, errors 0\n');
    assert.equal(process.exitCode, undefined);
  });

  it('runs passes limit and offset, and refuses bad numbers', async () => {
    const seen: number[][] = [];
    const page: RunPage = { items: [], total: 0 };
    const service = {
      listRuns: (limit: number, offset: number) => {
        seen.push([limit, offset]);
        return Promise.resolve(page);
      },
    };
    assert.deepEqual(
      JSON.parse(await run(['runs', '--json', '--limit', '5', '--offset', '10'], service)),
      page,
    );
    assert.equal(await run(['runs'], service), 'no runs yet\n');
    assert.deepEqual(seen, [
      [5, 10],
      [50, 0],
    ]);
    await assert.rejects(run(['runs', '--limit', 'many'], service), InputError);
    await assert.rejects(run(['run', '12x'], service), InputError);
  });
});
