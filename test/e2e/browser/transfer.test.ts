import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { eventually, launchBrowser, logIn, screenshot, skipWithoutChromium, withPage } from './browser.js';
import {
  CHECKSUM_FAILURE,
  GUIDE_STREAM,
  LATE_FILE,
  RETRIED_EXPOSURE,
  RETRIED_FAILURE,
  RETRIED_NIGHT,
  SPECTRO_STREAM,
  TRANSFER_STAGES,
  VERIFY_EXPOSURE,
  VERIFY_FAILURE,
  VERIFY_NIGHT,
  displayedShortTime,
  displayedTime,
  expectedTransferNights,
  transferDashboardSeed,
  type ExpectedNight,
  type TransferSeed,
} from './seed.js';
import { startDashboard, type Dashboard } from './server.js';

const BADGE_TEXT = { green: 'ok', yellow: 'in progress', red: 'failed' } as const;

/** The newest `count` distinct nights (0 = all), as the API limits the listing. */
function newestNights(nights: ExpectedNight[], count: number): ExpectedNight[] {
  const distinct = [...new Set(nights.map((n) => n.night))].slice(0, count || undefined);
  return nights.filter((n) => distinct.includes(n.night));
}

const card = (page: Page, stream: string, night: string): Locator =>
  page.locator(`article[data-stream="${stream}"][data-night="${night}"]`);

/** The given attributes of each element, joined by ":" (e.g. "desi_spectro_data:20261120:red"). */
async function attributes(elements: Locator, names: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const element of await elements.all()) {
    // Short waits: the list may re-render under us, and callers retry with eventually().
    const values = await Promise.all(names.map((name) => element.getAttribute(name, { timeout: 1000 })));
    out.push(values.join(':'));
  }
  return out;
}

/** `stream:night:state` of every night card, top to bottom. */
const shownNights = (page: Page) =>
  attributes(page.locator('article[data-night]'), ['data-stream', 'data-night', 'data-state']);

const describeNights = (nights: ExpectedNight[]) => nights.map((n) => `${n.stream}:${n.night}:${n.state}`);

async function expand(page: Page, stream: string, night: string): Promise<Locator> {
  const night_ = card(page, stream, night);
  const toggle = night_.getByRole('button', { name: `Night ${night} of ${stream}` });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await night_.locator('table.exposures-table').waitFor();
  return night_;
}

/** The exposure table of an expanded night against what the seed recorded, cell by cell. */
async function assertExposures(nightCard: Locator, expected: ExpectedNight): Promise<void> {
  const rows = nightCard.locator('table.exposures-table tbody tr');
  assert.deepEqual(
    await attributes(rows, ['data-exposure']),
    expected.exposures.map((e) => e.exposure),
    `exposures of ${expected.night} in numeric order`,
  );
  for (const exposure of expected.exposures) {
    const row = nightCard.locator(`tbody tr[data-exposure="${exposure.exposure}"]`);
    for (const stage of TRANSFER_STAGES) {
      const cell = row.locator(`td[data-stage="${stage}"]`);
      const state = exposure.stages[stage];
      const where = `${expected.night}/${exposure.exposure} ${stage}`;
      assert.equal(
        await cell.getAttribute('data-state'),
        state === null ? 'none' : state.ok ? 'ok' : 'failed',
        where,
      );
      if (state === null) continue;
      assert.equal((await cell.locator('time').textContent())?.trim(), displayedShortTime(state.at), where);
      if (!state.ok) {
        const message = cell.locator('.stage-message');
        assert.equal(await message.isVisible(), true, `${where}: the failure message is on screen`);
        assert.equal((await message.textContent())?.trim(), state.message, where);
      }
    }
  }
}

describe('transfer status page', { skip: skipWithoutChromium }, () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let seed: TransferSeed;
  let nights: ExpectedNight[];
  before(async () => {
    dashboard = await startDashboard(transferDashboardSeed());
    browser = await launchBrowser();
    assert.ok(dashboard.seed.transfer);
    seed = dashboard.seed.transfer;
    nights = expectedTransferNights(seed.attempts);
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
  });

  const expectedNight = (stream: string, night: string): ExpectedNight => {
    const found = nights.find((n) => n.stream === stream && n.night === night);
    assert.ok(found, `the seed has night ${night} of ${stream}`);
    return found;
  };

  it('lists the last 10 nights newest first, each with its state in words, counts and archive mark', async () => {
    await withPage(browser, dashboard, async (page) => {
      await page.goto('/');
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Transfer' }).click();
      await page.getByRole('heading', { name: 'Transfer', exact: true }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/transfer');
      await page.locator('article[data-night]').first().waitFor();

      const shown = newestNights(nights, 10);
      assert.ok(shown.length < nights.length, 'the seed has more nights than the default shows');
      assert.deepEqual(await shownNights(page), describeNights(shown));
      for (const night of shown) {
        const nightCard = card(page, night.stream, night.night);
        const where = `${night.stream} ${night.night}`;
        assert.equal(
          (await nightCard.locator('.night-badge').textContent())?.trim(),
          BADGE_TEXT[night.state],
          where,
        );
        assert.equal(
          (await nightCard.getByTestId('night-exposures').textContent())?.trim(),
          `${night.exposures.length} exposure${night.exposures.length === 1 ? '' : 's'}`,
          where,
        );
        assert.equal(
          (await nightCard.getByTestId('night-failed').textContent())?.trim(),
          `${night.failed} failed`,
          where,
        );
        assert.equal(await nightCard.getByTestId('night-archived').count(), night.archived ? 1 : 0, where);
      }
      // The one state of each colour the seed promises.
      assert.equal(expectedNight(SPECTRO_STREAM, '20261121').state, 'yellow');
      assert.equal(expectedNight(SPECTRO_STREAM, '20261120').state, 'red');
      assert.equal(expectedNight(SPECTRO_STREAM, RETRIED_NIGHT).state, 'green');

      const [catchup] = seed.nights;
      assert.ok(catchup);
      const times = await card(page, catchup.stream, catchup.night).locator('.night-times').textContent();
      assert.match(times ?? '', new RegExp(`catch-up ${displayedShortTime(catchup.catchupAt)}`));
      assert.match(times ?? '', new RegExp(`archive ${displayedShortTime(catchup.archiveAt)}`));
      await screenshot(page, 'transfer');
    });
  });

  it('keeps the stream and the number of nights in the address', async () => {
    await withPage(browser, dashboard, async (page) => {
      await page.goto('/transfer');
      await page.locator('article[data-night]').first().waitFor();

      await page.getByLabel('Show').selectOption({ label: 'all nights' });
      await eventually(async () => assert.deepEqual(await shownNights(page), describeNights(nights)));
      assert.equal(new URL(page.url()).searchParams.get('nights'), 'all');

      await page.getByLabel('Show').selectOption({ label: 'last 7 nights' });
      await eventually(async () =>
        assert.deepEqual(await shownNights(page), describeNights(newestNights(nights, 7))),
      );

      await page.getByLabel('Stream').selectOption(GUIDE_STREAM);
      const guide = nights.filter((n) => n.stream === GUIDE_STREAM);
      await eventually(async () => assert.deepEqual(await shownNights(page), describeNights(guide)));
      const url = new URL(page.url());
      assert.equal(url.searchParams.get('stream'), GUIDE_STREAM);
      assert.equal(url.searchParams.get('nights'), '7');

      await page.reload();
      await eventually(async () => assert.deepEqual(await shownNights(page), describeNights(guide)));
      assert.equal(await page.getByLabel('Stream').inputValue(), GUIDE_STREAM);
      assert.equal(await page.getByLabel('Show').inputValue(), '7');

      await page.getByLabel('Stream').selectOption({ label: 'all streams' });
      await eventually(async () =>
        assert.deepEqual(await shownNights(page), describeNights(newestNights(nights, 7))),
      );
    });
  });

  it('expands a night into its exposures × stages, numerically sorted, with the failure message', async () => {
    const failed = expectedNight(SPECTRO_STREAM, '20261120');
    assert.deepEqual(
      failed.exposures.map((e) => e.exposure),
      ['00000009', '00000010'],
    );
    assert.equal(failed.exposures[1]?.stages.checksum?.message, CHECKSUM_FAILURE);
    await withPage(browser, dashboard, async (page) => {
      await page.goto('/transfer');
      const nightCard = await expand(page, SPECTRO_STREAM, '20261120');
      const headers = await nightCard.getByRole('columnheader').allTextContents();
      assert.deepEqual(
        headers.map((h) => h.trim()),
        ['Exposure', ...TRANSFER_STAGES],
      );
      await assertExposures(nightCard, failed);
      await nightCard.getByText(CHECKSUM_FAILURE).waitFor();
      assert.match(new URL(page.url()).search, /open=/);
      await screenshot(page, 'transfer-night');

      const inProgress = await expand(page, SPECTRO_STREAM, '20261121');
      await assertExposures(inProgress, expectedNight(SPECTRO_STREAM, '20261121'));
      await assertExposures(
        await expand(page, SPECTRO_STREAM, RETRIED_NIGHT),
        expectedNight(SPECTRO_STREAM, RETRIED_NIGHT),
      );

      // Open nights are part of the address, so a reload keeps them open.
      await page.reload();
      await card(page, SPECTRO_STREAM, '20261121').locator('table.exposures-table').waitFor();
      await card(page, SPECTRO_STREAM, '20261120').locator('table.exposures-table').waitFor();
    });
  });

  it('shows every attempt of an exposure, oldest first, and leads back to its night', async () => {
    const history = seed.attempts.filter(
      (a) => a.stream === SPECTRO_STREAM && a.night === RETRIED_NIGHT && a.exposure === RETRIED_EXPOSURE,
    );
    assert.ok(history.some((a) => !a.ok) && history.at(-1)?.ok, 'a failed attempt, then ok ones');
    await withPage(browser, dashboard, async (page) => {
      await page.goto('/transfer');
      const nightCard = await expand(page, SPECTRO_STREAM, RETRIED_NIGHT);
      await nightCard.getByRole('link', { name: RETRIED_EXPOSURE }).click();
      await page.getByRole('heading', { name: `Exposure ${RETRIED_EXPOSURE}` }).waitFor();
      assert.equal(
        new URL(page.url()).pathname,
        `/transfer/${SPECTRO_STREAM}/${RETRIED_NIGHT}/${RETRIED_EXPOSURE}`,
      );

      const rows = page.locator('table.history-table tbody tr');
      await rows.first().waitFor();
      assert.deepEqual(
        await attributes(rows, ['data-stage', 'data-state']),
        history.map((a) => `${a.stage}:${a.ok ? 'ok' : 'failed'}`),
      );
      const failedRow = page.locator('table.history-table tbody tr[data-state="failed"]');
      const failedAttempt = history.find((a) => !a.ok);
      assert.ok(failedAttempt);
      const cells = (await failedRow.locator('td').allTextContents()).map((c) => c.trim());
      assert.deepEqual(cells, [
        displayedTime(failedAttempt.at / 1000),
        'checksum',
        '✗ failed',
        RETRIED_FAILURE,
      ]);
      // The latest state: every stage ok after the retry.
      for (const stage of TRANSFER_STAGES) {
        assert.equal(
          await page.locator(`table.exposures-table td[data-stage="${stage}"]`).getAttribute('data-state'),
          'ok',
        );
      }
      await screenshot(page, 'transfer-exposure');

      await page.getByRole('link', { name: '← Transfer' }).click();
      await card(page, SPECTRO_STREAM, RETRIED_NIGHT).locator('table.exposures-table').waitFor();
      assert.equal(new URL(page.url()).pathname, '/transfer');
    });
  });

  it('shows no action buttons to a viewer or a visitor', async () => {
    await withPage(browser, dashboard, async (page) => {
      const check = async () => {
        await page.goto('/transfer');
        const nightCard = await expand(page, SPECTRO_STREAM, VERIFY_NIGHT);
        await nightCard.locator(`tbody tr[data-exposure="${VERIFY_EXPOSURE}"]`).waitFor();
        for (const name of ['Verify again', 'Catch up', 'Archive']) {
          assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
        }
      };
      await check();
      await logIn(page, dashboard.users.viewer);
      await check();
    });
  });

  it('lets an operator verify a published exposure again: the result shows and the checksum turns ok', async () => {
    const before = expectedNight(SPECTRO_STREAM, VERIFY_NIGHT);
    assert.equal(before.state, 'red');
    await withPage(browser, dashboard, async (page) => {
      await logIn(page, dashboard.users.operator);
      await page.goto('/transfer');
      const nightCard = await expand(page, SPECTRO_STREAM, VERIFY_NIGHT);
      await assertExposures(nightCard, before);
      const row = nightCard.locator(`tbody tr[data-exposure="${VERIFY_EXPOSURE}"]`);
      const checksum = row.locator('td[data-stage="checksum"]');
      await checksum.getByText(VERIFY_FAILURE).waitFor();

      const startedAt = Date.now();
      await row.getByRole('button', { name: 'Verify again' }).click();
      const result = row.getByRole('status');
      await result.waitFor();
      assert.match((await result.textContent()) ?? '', /Checksums of 00000012 match: 3 files/);
      await eventually(async () => assert.equal(await checksum.getAttribute('data-state'), 'ok'));
      assert.equal(await checksum.locator('.stage-message').count(), 0);
      const at = Date.parse((await checksum.locator('time').getAttribute('datetime')) ?? '');
      assert.ok(
        at >= startedAt - 60_000,
        `the checksum cell shows the new attempt (${new Date(at).toISOString()})`,
      );
      await eventually(async () => assert.equal(await nightCard.getAttribute('data-state'), 'green'));
      assert.equal((await nightCard.locator('.night-badge').textContent())?.trim(), 'ok');
      await screenshot(page, 'transfer-verified');

      // 00000011 is recorded as published but its folder is gone: the API's own message shows.
      const orphan = nightCard.locator('tbody tr[data-exposure="00000011"]');
      await orphan.getByRole('button', { name: 'Verify again' }).click();
      const refusal = orphan.getByRole('alert');
      await refusal.waitFor();
      const refusalText = ((await refusal.textContent()) ?? '').trim();
      assert.ok(refusalText.startsWith('Verification could not run:'), refusalText);
      assert.match(refusalText, /00000011/);
      assert.equal(await orphan.locator('td[data-stage="checksum"]').getAttribute('data-state'), 'ok');

      // The new attempt is the last line of the exposure's history.
      await row.getByRole('link', { name: VERIFY_EXPOSURE }).click();
      const last = page.locator('table.history-table tbody tr').last();
      await last.waitFor();
      assert.equal(await last.getAttribute('data-stage'), 'checksum');
      assert.equal(await last.getAttribute('data-state'), 'ok');
      // The operator can verify from the history page too.
      await page.getByRole('button', { name: 'Verify again' }).click();
      await page.getByRole('status').filter({ hasText: 'match' }).waitFor();
    });
  });

  it('lets an operator preview a catch-up and an archive of a night without changing anything', async () => {
    const dirs = dashboard.transferDirs[SPECTRO_STREAM];
    assert.ok(dirs);
    const archiveBefore = fs.readdirSync(dirs.archive);
    await withPage(browser, dashboard, async (page) => {
      await logIn(page, dashboard.users.operator);
      await page.goto('/transfer');
      const nightCard = await expand(page, SPECTRO_STREAM, VERIFY_NIGHT);
      const dryRun = nightCard.getByLabel('Dry run');
      assert.equal(await dryRun.isChecked(), true, 'previews are the default');

      for (const [button, title, refused] of [
        ['Catch up', `Catch-up of ${VERIFY_NIGHT} (dry run)`, 'Catch-up could not run:'],
        ['Archive', `Archive of ${VERIFY_NIGHT} (dry run)`, 'Archive could not run:'],
      ] as const) {
        await nightCard.getByRole('button', { name: button, exact: true }).click();
        const outcome = nightCard.locator('.night-actions .action-outcome');
        await eventually(async () => {
          const text = (await outcome.textContent()) ?? '';
          assert.ok(text.includes(title) || text.includes(refused), `${button}: ${text}`);
        });
        const text = ((await outcome.textContent()) ?? '').trim();
        if ((await outcome.getAttribute('role')) === 'alert') {
          // The API refused: its own message follows the title, never an empty notice.
          assert.ok(text.startsWith(refused) && text.length > refused.length + 1, text);
        } else {
          assert.ok(text.startsWith(title), text);
          // The late file at the source is what a catch-up would bring over.
          if (button === 'Catch up') {
            assert.ok(
              text.includes(`${VERIFY_EXPOSURE}: 1 changed file (`) && text.includes(LATE_FILE),
              text,
            );
          }
        }
        console.log(`${button} preview: ${text}`);
      }
      await screenshot(page, 'transfer-preview');
    });
    assert.deepEqual(fs.readdirSync(dirs.archive), archiveBefore, 'a dry run writes no archive');
  });
});
