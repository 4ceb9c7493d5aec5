// The audit service end to end with the real listers and the real compare engine, on every
// database dialect: a small site with known answers, the two-run confirmation, thresholds,
// site picking and status transitions, halting, report files, and acting on a list.
import { it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describeEachDialect } from '../../helpers/database.js';
import { tempDir } from '../../helpers/cli.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { tables, type Database } from '../../../src/core/db/database.js';
import { silentLogger } from '../../../src/core/logger.js';
import { lockMigrations } from '../../../src/core/lifecycle/lock.migrations.js';
import { createLockManager } from '../../../src/core/lifecycle/lock.factory.js';
import {
  auditConfigSchema,
  auditMigrations,
  createAuditModule,
  DefaultListerFactory,
  type AuditModule,
  type ListerFactory,
} from '../../../src/modules/audit/index.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const OLD = Math.floor(NOW / 1000) - 30 * 86400;
const YOUNG = Math.floor(NOW / 1000) - 3600;

class RecordingAlerts {
  raised: { code: string; key?: string }[] = [];
  raise(alert: { code: string; key?: string }): Promise<void> {
    this.raised.push({ code: alert.code, key: alert.key });
    return Promise.resolve();
  }
  resolve(): Promise<void> {
    return Promise.resolve();
  }
}

interface Site {
  root: string;
  store: string;
  inventory: string;
}

function writeFile(store: string, rel: string, size: number, mtime = OLD): void {
  const file = path.join(store, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(size, 1));
  fs.utimesSync(file, mtime, mtime);
}

/**
 * The known-answer site: one missing file, one orphan, one size mismatch, nested empty
 * directories, a young file on each side, an orphan under an ignored pattern.
 */
function knownSite(): Site {
  const root = tempDir('custodian-audit-');
  const store = path.join(root, 'store');
  writeFile(store, 'mc/a/good.root', 100);
  writeFile(store, 'mc/a/name with spaces.root', 7);
  writeFile(store, 'mc/b/orphan.root', 50);
  writeFile(store, 'mc/b/size.root', 20);
  writeFile(store, 'mc/b/young-orphan.root', 5, YOUNG);
  writeFile(store, 'mc/unmerged/ignored-orphan.root', 9);
  fs.mkdirSync(path.join(store, 'mc/empty1/empty2'), { recursive: true });
  // Directories as old as the files: a young directory counts as still being written.
  const age = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) age(path.join(dir, entry.name));
    fs.utimesSync(dir, OLD, OLD);
  };
  age(store);
  const inventory = path.join(root, 'inventory.tsv');
  fs.writeFileSync(
    inventory,
    [
      `/store/mc/a/good.root\t100\t${OLD}`,
      `/store/mc/a/name with spaces.root\t7\t${OLD}`,
      `/store/mc/a/lost.root\t30\t${OLD}`,
      `/store/mc/a/young-missing.root\t3\t${YOUNG}`,
      `/store/mc/b/size.root\t10\t${OLD}`,
      '',
    ].join('\n'),
  );
  return { root, store, inventory };
}

async function resetTables(database: Database): Promise<void> {
  await migrateToLatest(database, [lockMigrations, auditMigrations]);
  const db = tables<Record<string, object>>(database);
  for (const table of ['audit_entries', 'audit_runs', 'audit_sites']) await db.deleteFrom(table).execute();
}

describeEachDialect('audit service', (ctx) => {
  let roots: string[] = [];
  beforeEach(async () => {
    await resetTables(ctx.database);
  });
  afterEach(() => {
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
    roots = [];
  });

  function build(
    sites: { name: string; site: Site; directories?: string[] }[],
    options: { maxMissing?: number; maxOrphans?: number; listers?: ListerFactory } = {},
  ): { module: AuditModule; alerts: RecordingAlerts; reportsDir: string } {
    const reportsDir = path.join(tempDir('custodian-audit-reports-'));
    roots.push(reportsDir, ...sites.map((s) => s.site.root));
    const config = auditConfigSchema.parse({
      ignoreAgeDays: 5,
      ignorePatterns: ['/store/mc/unmerged/'],
      maxMissing: options.maxMissing ?? 10,
      maxOrphans: options.maxOrphans ?? 10,
      reportsDir,
      sites: sites.map((s) => ({
        name: s.name,
        storage: `file://${s.site.store}`,
        directories: s.directories ?? ['mc'],
        concurrency: 4,
        retries: 1,
        timeoutSeconds: 30,
        inventory: s.site.inventory,
      })),
    });
    const alerts = new RecordingAlerts();
    const module = createAuditModule({
      config,
      database: ctx.database,
      alerts,
      locks: createLockManager(ctx.database, {
        logger: silentLogger(),
        connectionString: ctx.dialect === 'postgres' ? ctx.url : undefined,
      }),
      logger: silentLogger(),
      clock: () => NOW,
      listers: options.listers,
    });
    return { module, alerts, reportsDir };
  }

  it('finds the known answers and writes the report files', async () => {
    const site = knownSite();
    const { module, reportsDir } = build([{ name: 'T2_TEST', site }]);
    const run = await module.service.runSite('T2_TEST');
    assert.equal(run.outcome, 'ok', run.message ?? '');
    assert.deepEqual(
      {
        missing: run.missing,
        missingBytes: run.missingBytes,
        orphans: run.orphans,
        orphanBytes: run.orphanBytes,
        sizeMismatches: run.sizeMismatches,
        emptyDirs: run.emptyDirs,
        unlisted: run.unlisted,
      },
      {
        missing: 1,
        missingBytes: 30,
        orphans: 1,
        orphanBytes: 50,
        sizeMismatches: 1,
        emptyDirs: 2,
        unlisted: 0,
      },
    );
    assert.equal(run.files, 6);
    const dir = path.join(reportsDir, 'T2_TEST', String(run.id));
    const read = (name: string) =>
      fs
        .readFileSync(path.join(dir, name), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.replace(/\/$/, ''));
    assert.deepEqual(read('T2_TEST_missing.txt'), ['/store/mc/a/lost.root']);
    assert.deepEqual(read('T2_TEST_orphan.txt'), ['/store/mc/b/orphan.root']);
    assert.deepEqual(
      read('T2_TEST_empty.txt'),
      ['/store/mc/empty1/empty2', '/store/mc/empty1'],
      'deepest first',
    );
    assert.deepEqual(read('T2_TEST_unlisted.txt'), []);

    // Orphans and empty directories are listed from the first run; missing files need a second.
    const orphans = await module.service.entries('T2_TEST', 'orphan');
    assert.deepEqual(
      orphans.entries.map((e) => e.path),
      ['/store/mc/b/orphan.root'],
    );
    assert.equal(orphans.forAction, false, 'dry mode by default');
    const empty = await module.service.entries('T2_TEST', 'empty');
    assert.deepEqual(
      empty.entries.map((e) => e.path.replace(/\/$/, '')),
      ['/store/mc/empty1/empty2', '/store/mc/empty1'],
    );
    const missing = await module.service.entries('T2_TEST', 'missing');
    assert.deepEqual(missing.entries, [], 'not confirmed yet');
    assert.match(missing.reason ?? '', /second run/);
  });

  it('confirms a missing file over two runs, then lets the caller act on the list in act mode', async () => {
    const site = knownSite();
    const { module } = build([{ name: 'T2_TEST', site }]);
    await module.service.runSite('T2_TEST');
    // Between the runs another file goes missing: it is not confirmed by the second run.
    fs.rmSync(path.join(site.store, 'mc/a/name with spaces.root'));
    await module.service.runSite('T2_TEST');
    const dry = await module.service.entries('T2_TEST', 'missing');
    assert.deepEqual(
      dry.entries.map((e) => e.path),
      ['/store/mc/a/lost.root'],
    );
    assert.equal(dry.forAction, false);
    await assert.rejects(module.service.entries('T2_TEST', 'missing', { acting: true }), /dry mode/);

    await module.service.setStatus('T2_TEST', 'act');
    const acting = await module.service.entries('T2_TEST', 'missing', { acting: true });
    assert.equal(acting.forAction, true);
    assert.ok(acting.actedAt);
    assert.deepEqual(
      acting.entries.map((e) => [e.path, e.actedAt !== null]),
      [['/store/mc/a/lost.root', true]],
    );
  });

  it('blocks action when a threshold is exceeded, and alerts', async () => {
    const site = knownSite();
    const { module, alerts } = build([{ name: 'T2_TEST', site }], { maxOrphans: 0 });
    await module.service.setStatus('T2_TEST', 'act');
    const run = await module.service.runSite('T2_TEST');
    assert.equal(run.outcome, 'over-threshold');
    assert.deepEqual(
      alerts.raised.map((a) => [a.code, a.key]),
      [['AUDIT_THRESHOLD_EXCEEDED', 'T2_TEST']],
    );
    const orphans = await module.service.entries('T2_TEST', 'orphan');
    assert.equal(orphans.forAction, false);
    assert.equal(orphans.entries.length, 1, 'still reported');
    await assert.rejects(module.service.entries('T2_TEST', 'orphan', { acting: true }), /exceeded/);
  });

  it('picks the site never audited, then the one audited longest ago, among ready sites', async () => {
    const { module } = build([
      { name: 'A', site: knownSite() },
      { name: 'B', site: knownSite() },
      { name: 'C', site: knownSite() },
    ]);
    await module.service.setStatus('C', 'disable');
    assert.equal((await module.service.runNext())?.site, 'A');
    assert.equal((await module.service.runNext())?.site, 'B');
    assert.equal((await module.service.runNext())?.site, 'A', 'C is disabled');
    assert.equal((await module.service.runNext({ siteRegex: '^B$' }))?.site, 'B');
    await module.service.setStatus('A', 'halt');
    await module.service.setStatus('B', 'halt');
    assert.equal(await module.service.runNext(), undefined, 'nothing ready');
    await assert.rejects(module.service.runSite('A'), /halted/);
    const sites = await module.service.sites();
    assert.deepEqual(
      sites.map((s) => [s.name, s.status, s.mode]),
      [
        ['A', 'halted', 'dry'],
        ['B', 'halted', 'dry'],
        ['C', 'disabled', 'dry'],
      ],
    );
    await module.service.setStatus('C', 'ready');
    assert.equal((await module.service.runNext())?.site, 'C');
  });

  it('halts a running audit at the next directory and records it halted', async () => {
    const site = knownSite();
    const holder: { module?: AuditModule } = {};
    const real = new DefaultListerFactory();
    // The operator's halt arrives once the listing has started.
    const listers: ListerFactory = {
      create: (storage) => {
        const lister = real.create(storage);
        return {
          display: lister.display,
          list: async (options) => {
            await holder.module?.service.setStatus(storage.name, 'halt');
            return lister.list(options);
          },
        };
      },
    };
    const module = build([{ name: 'T2_TEST', site }], { listers }).module;
    holder.module = module;
    const run = await module.service.runSite('T2_TEST');
    assert.equal(run.outcome, 'halted');
    const [summary] = await module.service.sites();
    assert.equal(summary?.status, 'halted');
    assert.equal(summary?.haltRequested, false);
    await module.service.setStatus('T2_TEST', 'ready');
    assert.equal((await module.service.sites())[0]?.status, 'ready');
  });
});
