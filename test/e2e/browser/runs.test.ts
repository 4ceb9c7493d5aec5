import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { eventually, screenshot, skipWithoutChromium, useDashboard, withPage } from './browser.js';
import { displayedTime, expectedRuns, runFiles, RUN_COUNT, SUBSYSTEMS, type ExpectedRun } from './seed.js';

/** Run numbers in the order the table shows them. */
async function shownRuns(page: Page): Promise<number[]> {
  const cells = await page.locator('.runs-table tbody tr td:first-child').allTextContents();
  return cells.map((text) => Number(text.trim()));
}

async function assertRow(page: Page, run: ExpectedRun): Promise<void> {
  const row = page.locator(`.runs-table tbody tr[data-run="${run.run}"]`);
  for (const subsystem of SUBSYSTEMS) {
    const text = (await row.locator(`td[data-subsystem="${subsystem}"]`).textContent())?.trim();
    const count = run.files[subsystem];
    assert.equal(text, count === undefined ? '–' : String(count), `run ${run.run} ${subsystem}`);
  }
  const cells = await row.locator('td').allTextContents();
  assert.ok(
    cells.includes(displayedTime(run.firstTimestamp)),
    `run ${run.run} start in local time: ${cells.join(' | ')}`,
  );
  assert.equal(
    cells.some((cell) => cell.includes('replay')),
    run.replay,
    `run ${run.run} replay flag`,
  );
}

describe('runs pages', { skip: skipWithoutChromium }, () => {
  const suite = useDashboard();
  let runs: ExpectedRun[];
  before(() => {
    runs = expectedRuns(suite.dashboard.seed.files);
  });

  it('lists runs newest first with their files per subsystem, page by page', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/runs');
      await page.locator('.runs-table').waitFor();
      const headers = (await page.locator('.runs-table thead th').allTextContents()).map((h) => h.trim());
      for (const subsystem of SUBSYSTEMS) assert.ok(headers.includes(subsystem), `a ${subsystem} column`);

      await page.getByLabel('Per page').selectOption('10');
      await eventually(async () =>
        assert.deepEqual(
          await shownRuns(page),
          runs.slice(0, 10).map((r) => r.run),
        ),
      );
      for (const run of runs.slice(0, 10)) await assertRow(page, run);
      await screenshot(page, 'runs');

      await page.getByRole('button', { name: 'Next' }).click();
      await eventually(async () =>
        assert.deepEqual(
          await shownRuns(page),
          runs.slice(10, 20).map((r) => r.run),
        ),
      );
      for (const run of runs.slice(10, 20)) await assertRow(page, run);
      assert.equal((await page.getByTestId('page-range').textContent())?.trim(), `11–20 of ${RUN_COUNT}`);

      await page.getByRole('button', { name: 'Next' }).click();
      await eventually(async () =>
        assert.deepEqual(
          await shownRuns(page),
          runs.slice(20).map((r) => r.run),
        ),
      );
      assert.equal(await page.getByRole('button', { name: 'Next' }).isDisabled(), true);
      await page.getByRole('button', { name: 'Previous' }).click();
      await eventually(async () =>
        assert.deepEqual(
          await shownRuns(page),
          runs.slice(10, 20).map((r) => r.run),
        ),
      );
    });
  });

  it('opens a run and shows a timeline mark for each of its files', async () => {
    // A run with files in every subsystem and more than one file in some.
    const run = runs.find((r) => SUBSYSTEMS.every((s) => (r.files[s] ?? 0) > 0) && (r.files.EMC ?? 0) > 3);
    assert.ok(run, 'the seed has a run with files in every subsystem');
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/runs?size=50');
      await page.locator(`.runs-table tbody tr[data-run="${run.run}"]`).click();
      await page.getByRole('heading', { name: `Run ${run.run}` }).waitFor();
      assert.equal(new URL(page.url()).pathname, `/runs/${run.run}`);

      const timeline = page.getByTestId('timeline');
      await timeline.waitFor();
      for (const subsystem of SUBSYSTEMS) {
        const marks = timeline.locator(`g.timeline-row[data-subsystem="${subsystem}"] .timeline-mark`);
        assert.equal(await marks.count(), run.files[subsystem], `${subsystem} marks`);
      }
      const total = Object.values(run.files).reduce((a, b) => a + b, 0);
      assert.equal(await page.locator('.files-table tbody tr').count(), total);
      await page
        .locator('.files-table tbody tr', { hasText: displayedTime(run.firstTimestamp) })
        .first()
        .waitFor();
      await screenshot(page, 'run');
    });
  });

  it('says so when a run does not exist', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/runs/999999');
      const error = page.getByRole('alert');
      await error.waitFor();
      assert.notEqual((await error.textContent())?.trim() ?? '', '');
    });
  });

  it('shows a new run as it arrives, without reloading the page', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/runs');
      await page.locator('.runs-table').waitFor();
      await page.evaluate(() => {
        (globalThis as Record<string, unknown>).sameDocument = true;
      });
      const newRun = runFiles(RUN_COUNT);
      const number = newRun[0]?.run;
      await suite.dashboard.addFiles(newRun);
      await page.locator(`.runs-table tbody tr[data-run="${number}"]`).waitFor({ timeout: 20_000 });
      assert.equal((await shownRuns(page))[0], number, 'the new run is on top');
      const [expected] = expectedRuns(newRun);
      assert.ok(expected);
      await assertRow(page, expected);
      assert.equal(await page.evaluate(() => (globalThis as Record<string, unknown>).sameDocument), true);
    });
  });
});
