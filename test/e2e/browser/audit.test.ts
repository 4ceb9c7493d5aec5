import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { eventually, launchBrowser, logIn, screenshot, skipWithoutChromium, withPage } from './browser.js';
import {
  AUDIT_DISABLED_SITE,
  AUDIT_HIDDEN,
  AUDIT_MAX_ORPHANS,
  AUDIT_MISMATCH,
  AUDIT_MISSING,
  AUDIT_ORPHAN,
  AUDIT_SITE,
  auditDashboardSeed,
  expectedAudit,
  type AuditSiteSeed,
  type ExpectedAudit,
} from './seed.js';
import { startDashboard, type Dashboard } from './server.js';

/** How the dashboard writes the seed's small sizes (all under 100 KiB). */
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const siteRow = (page: Page, site: string): Locator =>
  page.locator(`table.audit-sites-table tr[data-site="${site}"]`);

const cell = (row: Locator, column: string): Locator => row.locator(`td[data-column="${column}"]`);

async function text(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** One attribute of each element, top to bottom. */
async function attribute(elements: Locator, name: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const element of await elements.all()) out.push(await element.getAttribute(name, { timeout: 1000 }));
  return out;
}

/** The `datetime` of each <time>, as unix ms. */
async function times(elements: Locator): Promise<number[]> {
  return (await attribute(elements, 'datetime')).map((value) => Date.parse(value ?? ''));
}

/** The paths of the open list, top to bottom. */
async function listedPaths(page: Page): Promise<string[]> {
  const rows = page.locator('table.audit-entries-table tbody tr');
  return (await rows.locator('td.path').allTextContents()).map((p) => p.trim());
}

async function openTab(page: Page, name: string, kind: string): Promise<void> {
  await page.getByRole('tab', { name: new RegExp(`^${name}`) }).click();
  await eventually(async () => {
    assert.equal(new URL(page.url()).searchParams.get('list'), kind);
    await page.getByTestId('for-action').waitFor({ timeout: 1000 });
  });
}

const statusBadge = (page: Page) => page.locator('.page-header [data-testid="site-status"]');
const modeBadge = (page: Page) => page.locator('.page-header [data-testid="site-mode"]');

async function setStatus(page: Page, group: 'Site status' | 'Site mode', button: string): Promise<void> {
  await page.getByRole('group', { name: group }).getByRole('button', { name: button, exact: true }).click();
}

describe('audit pages', { skip: skipWithoutChromium }, () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let site: AuditSiteSeed;
  let expected: ExpectedAudit;
  let disabled: ExpectedAudit;
  before(async () => {
    dashboard = await startDashboard(auditDashboardSeed());
    browser = await launchBrowser();
    const sites = dashboard.seed.audit?.sites ?? [];
    const found = sites.find((s) => s.name === AUDIT_SITE);
    const old = sites.find((s) => s.name === AUDIT_DISABLED_SITE);
    assert.ok(found && old, 'the seed has both sites');
    site = found;
    expected = expectedAudit(found);
    disabled = expectedAudit(old);
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
  });

  it('knows its answers: one missing file confirmed twice, one orphan, a mismatch, nested empty dirs', () => {
    // The seed's own arithmetic, so the page checks below compare against known answers.
    assert.deepEqual(expected.missing, [AUDIT_MISSING]);
    assert.deepEqual(expected.orphans, [AUDIT_ORPHAN]);
    assert.deepEqual(expected.sizeMismatches, [AUDIT_MISMATCH]);
    assert.deepEqual(expected.emptyDirs, ['/store/mc/empty/inner', '/store/mc/empty']);
    assert.deepEqual(expected.unlisted, ['/store/data']);
    assert.ok(!expected.missing.includes(AUDIT_HIDDEN), 'nothing under an unlisted directory is missing');
    assert.equal(site.runs, 2);
    assert.equal(disabled.orphans.length, AUDIT_MAX_ORPHANS + 2);
    assert.equal(disabled.missing.length, 0);
  });

  it('summarizes every site: status, mode, last run and counts coloured against the thresholds', async () => {
    await withPage(browser, dashboard, async (page) => {
      await page.goto('/');
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
      await page.getByRole('heading', { name: 'Audit', exact: true }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/audit');
      await siteRow(page, AUDIT_SITE).waitFor();

      const names = await attribute(page.locator('table.audit-sites-table tbody tr'), 'data-site');
      assert.deepEqual(names, [AUDIT_DISABLED_SITE, AUDIT_SITE]);

      const row = siteRow(page, AUDIT_SITE);
      assert.equal(await row.locator('[data-testid="site-status"]').getAttribute('data-status'), 'ready');
      assert.equal(await text(row.locator('[data-testid="site-status"]')), 'ready');
      assert.equal(await text(row.locator('[data-testid="site-mode"]')), 'dry run');
      assert.match(await text(cell(row, 'last-run')), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.match(await text(cell(row, 'duration')), /^\d+ s$/);
      const expectCell = async (r: Locator, column: string, state: string, shown: string) => {
        assert.equal(await cell(r, column).getAttribute('data-state'), state, `${column} state`);
        assert.equal(await text(cell(r, column)), shown, `${column} text`);
      };
      await expectCell(row, 'outcome', 'ok', 'ok');
      assert.equal(await text(cell(row, 'files')), String(expected.files));
      assert.equal(await text(cell(row, 'directories')), String(expected.directories));
      await expectCell(row, 'missing', 'warn', `1 ${kib(expected.missingBytes)}`);
      await expectCell(row, 'orphans', 'warn', `1 ${kib(expected.orphanBytes)}`);
      await expectCell(row, 'size-mismatches', 'warn', '1');
      assert.equal(await text(cell(row, 'empty-dirs')), String(expected.emptyDirs.length));
      await expectCell(row, 'unlisted', 'warn', '1');

      const old = siteRow(page, AUDIT_DISABLED_SITE);
      assert.equal(await old.locator('[data-testid="site-status"]').getAttribute('data-status'), 'disabled');
      await expectCell(old, 'outcome', 'bad', 'over threshold');
      await expectCell(old, 'missing', 'ok', '0');
      await expectCell(old, 'orphans', 'bad', `${disabled.orphans.length} ${kib(disabled.orphanBytes)}`);
      await expectCell(old, 'size-mismatches', 'ok', '0');
      await expectCell(old, 'unlisted', 'ok', '0');
      assert.equal(await text(cell(old, 'files')), String(disabled.files));
      await screenshot(page, 'audit');

      await row.getByRole('link', { name: AUDIT_SITE }).click();
      await page.getByRole('heading', { name: AUDIT_SITE, exact: true }).waitFor();
      assert.equal(new URL(page.url()).pathname, `/audit/${AUDIT_SITE}`);
    });
  });

  it('shows a site: the chart, its runs newest first, the unlisted directory and each list', async () => {
    await withPage(browser, dashboard, async (page) => {
      await page.goto(`/audit/${AUDIT_SITE}`);
      await page.getByRole('heading', { name: AUDIT_SITE, exact: true }).waitFor();
      assert.equal(await statusBadge(page).getAttribute('data-status'), 'ready');
      assert.equal(await modeBadge(page).getAttribute('data-mode'), 'dry');
      assert.equal(
        await page.getByTestId('site-storage').textContent(),
        `file://${dashboard.auditDirs[AUDIT_SITE]?.storage}`,
      );

      const chart = page.getByTestId('audit-chart');
      await chart.locator('canvas').first().waitFor();
      assert.equal(await chart.getAttribute('data-points'), String(site.runs));
      const box = await chart.locator('canvas').first().boundingBox();
      assert.ok(box && box.width > 200 && box.height > 100, `the chart is drawn (${JSON.stringify(box)})`);
      assert.match(await text(chart), /Missing/);
      assert.match(await text(chart), /Orphans/);

      const runs = page.locator('table.audit-runs-table tbody tr');
      assert.equal(await runs.count(), site.runs);
      const started = await times(runs.locator('time'));
      assert.ok(
        started.every((t, i) => i === 0 || t <= (started[i - 1] ?? 0)),
        `newest first: ${started.join(', ')}`,
      );
      for (const run of await runs.all()) {
        assert.equal(await run.getAttribute('data-outcome'), 'ok');
        assert.equal(await cell(run, 'missing').getAttribute('data-state'), 'warn');
      }

      const unlisted = page.locator('table.audit-unlisted-table tbody tr');
      assert.deepEqual(await attribute(unlisted, 'data-path'), expected.unlisted);
      assert.match(await text(unlisted.first().locator('td').nth(1)), /does not exist/);

      // Missing is the first tab: confirmed by the second run, first seen at the first.
      await page.locator('table.audit-entries-table').waitFor();
      assert.equal(await page.getByRole('tab', { name: /^Missing/ }).getAttribute('aria-selected'), 'true');
      assert.deepEqual(await listedPaths(page), expected.missing);
      const missingRow = page.locator(`table.audit-entries-table tr[data-path="${AUDIT_MISSING}"]`);
      const [firstSeen, lastSeen] = await times(missingRow.locator('time'));
      assert.ok(
        firstSeen !== undefined && lastSeen !== undefined && firstSeen < lastSeen,
        'seen by both runs',
      );
      assert.equal(await text(missingRow.locator('td[data-column="acted-at"]')), '—');
      assert.equal(await page.getByTestId('for-action').getAttribute('data-for-action'), 'no');
      assert.match(await text(page.getByTestId('for-action')), /For action: no — .*dry mode/);
      await screenshot(page, 'audit-site');

      await openTab(page, 'Orphans', 'orphan');
      await eventually(async () => assert.deepEqual(await listedPaths(page), expected.orphans));
      await openTab(page, 'Size mismatches', 'size-mismatch');
      await eventually(async () => assert.deepEqual(await listedPaths(page), expected.sizeMismatches));
      await openTab(page, 'Empty directories', 'empty');
      await eventually(async () =>
        assert.deepEqual(
          (await listedPaths(page)).map((p) => p.replace(/\/$/, '')),
          expected.emptyDirs,
          'deepest first',
        ),
      );

      // The open list is part of the address.
      await page.reload();
      await eventually(async () =>
        assert.equal(
          await page.getByRole('tab', { name: /^Empty directories/ }).getAttribute('aria-selected'),
          'true',
        ),
      );
      await page.locator('table.audit-entries-table').waitFor();
    });
  });

  it('offers each list for download as text, one path per line', async () => {
    await withPage(browser, dashboard, async (page) => {
      await page.goto(`/audit/${AUDIT_SITE}?list=orphan`);
      const link = page.getByRole('link', { name: 'Download' });
      await link.waitFor();
      const href = await link.getAttribute('href');
      assert.ok(href, 'the link has an address');
      assert.equal(await link.getAttribute('download'), `${AUDIT_SITE}_orphan.txt`);
      const orphans = await page.request.get(href);
      assert.equal(orphans.status(), 200);
      assert.match(orphans.headers()['content-type'] ?? '', /^text\/plain/);
      assert.equal(await orphans.text(), expected.orphans.map((p) => `${p}\n`).join(''));

      await openTab(page, 'Missing', 'missing');
      const missingHref = await page.getByRole('link', { name: 'Download' }).getAttribute('href');
      assert.ok(missingHref);
      assert.notEqual(missingHref, href);
      const missing = await page.request.get(missingHref);
      assert.equal(await missing.text(), expected.missing.map((p) => `${p}\n`).join(''));
    });
  });

  it('shows no action buttons to a viewer or a visitor', async () => {
    await withPage(browser, dashboard, async (page) => {
      const check = async () => {
        await page.goto('/audit');
        await siteRow(page, AUDIT_SITE).waitFor();
        for (const name of ['Run now', 'Run next site']) {
          assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
        }
        await page.goto(`/audit/${AUDIT_SITE}`);
        await page.locator('table.audit-entries-table').waitFor();
        for (const name of ['Ready', 'Halt', 'Disable', 'Act', 'Dry run', 'Mark acted', 'Run now']) {
          assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
        }
        assert.equal(await page.getByRole('group', { name: 'Site status' }).count(), 0);
        // Reading is still allowed: the lists can be downloaded.
        await page.getByRole('link', { name: 'Download' }).waitFor();
      };
      await check();
      await logIn(page, dashboard.users.viewer);
      await check();
    });
  });

  it('lets an operator halt a site, set it ready, and switch it to act and back to dry', async () => {
    await withPage(browser, dashboard, async (page) => {
      await logIn(page, dashboard.users.operator);
      await page.goto(`/audit/${AUDIT_SITE}`);
      await page.getByRole('group', { name: 'Site status' }).waitFor();
      const ready = page.getByRole('group', { name: 'Site status' }).getByRole('button', { name: 'Ready' });
      assert.equal(await ready.isDisabled(), true, 'the site is ready already');

      await setStatus(page, 'Site status', 'Halt');
      await eventually(async () =>
        assert.equal(await statusBadge(page).getAttribute('data-status'), 'halted'),
      );
      assert.equal(await text(statusBadge(page)), 'halted');
      await page
        .getByRole('status')
        .filter({ hasText: `${AUDIT_SITE} is now halted, dry run.` })
        .waitFor();
      // A halted site is not audited: no Run now.
      assert.equal(await page.getByRole('button', { name: `Run now ${AUDIT_SITE}` }).isDisabled(), true);

      // The summary shows it too.
      await page.getByRole('link', { name: '← Audit' }).click();
      const row = siteRow(page, AUDIT_SITE);
      await eventually(async () =>
        assert.equal(await row.locator('[data-testid="site-status"]').getAttribute('data-status'), 'halted'),
      );
      await row.getByRole('link', { name: AUDIT_SITE }).click();

      await setStatus(page, 'Site status', 'Ready');
      await eventually(async () =>
        assert.equal(await statusBadge(page).getAttribute('data-status'), 'ready'),
      );

      await setStatus(page, 'Site mode', 'Act');
      await eventually(async () => assert.equal(await modeBadge(page).getAttribute('data-mode'), 'act'));
      assert.equal(await text(modeBadge(page)), 'act');
      await setStatus(page, 'Site mode', 'Dry run');
      await eventually(async () => assert.equal(await modeBadge(page).getAttribute('data-mode'), 'dry'));
      assert.equal(await text(modeBadge(page)), 'dry run');
      await screenshot(page, 'audit-site-operator');
    });
  });

  it('refuses "Mark acted" in dry mode with the reason, and records it in act mode', async () => {
    await withPage(browser, dashboard, async (page) => {
      await logIn(page, dashboard.users.operator);
      await page.goto(`/audit/${AUDIT_SITE}?list=missing`);
      await page.locator('table.audit-entries-table').waitFor();
      assert.equal(await modeBadge(page).getAttribute('data-mode'), 'dry');
      const panel = page.getByRole('tabpanel');
      const acted = page.locator(
        `table.audit-entries-table tr[data-path="${AUDIT_MISSING}"] td[data-column="acted-at"]`,
      );

      await panel.getByRole('button', { name: 'Mark acted' }).click();
      const refusal = panel.getByRole('alert');
      await refusal.waitFor();
      const refusalText = await text(refusal);
      assert.ok(refusalText.startsWith('Not marked:'), refusalText);
      assert.match(refusalText, new RegExp(`missing list of ${AUDIT_SITE} is not for action: .*dry mode`));
      assert.equal(await text(acted), '—');

      await setStatus(page, 'Site mode', 'Act');
      await eventually(async () =>
        assert.equal(await page.getByTestId('for-action').getAttribute('data-for-action'), 'yes'),
      );
      const startedAt = Date.now();
      await panel.getByRole('button', { name: 'Mark acted' }).click();
      const done = panel.getByRole('status').filter({ hasText: 'Marked acted at' });
      await done.waitFor();
      assert.match(await text(done), /: 1 entry\.$/);
      await eventually(async () => {
        const at = Date.parse(
          (await acted.locator('time').getAttribute('datetime', { timeout: 1000 })) ?? '',
        );
        assert.ok(at >= startedAt - 60_000, `acted at ${new Date(at).toISOString()}`);
      });
      await screenshot(page, 'audit-acted');

      // The orphan list was not acted on.
      await openTab(page, 'Orphans', 'orphan');
      await page.locator(`table.audit-entries-table tr[data-path="${AUDIT_ORPHAN}"]`).waitFor();
      assert.equal(
        await text(
          page.locator(
            `table.audit-entries-table tr[data-path="${AUDIT_ORPHAN}"] td[data-column="acted-at"]`,
          ),
        ),
        '—',
      );

      await setStatus(page, 'Site mode', 'Dry run');
      await eventually(async () => assert.equal(await modeBadge(page).getAttribute('data-mode'), 'dry'));
    });
  });

  it('lets an operator queue an audit of a ready site, not of a disabled one', async () => {
    await withPage(browser, dashboard, async (page) => {
      await logIn(page, dashboard.users.operator);
      await page.goto('/audit');
      const row = siteRow(page, AUDIT_SITE);
      await row.waitFor();
      assert.equal(
        await siteRow(page, AUDIT_DISABLED_SITE)
          .getByRole('button', { name: `Run now ${AUDIT_DISABLED_SITE}` })
          .isDisabled(),
        true,
      );
      await row.getByRole('button', { name: `Run now ${AUDIT_SITE}` }).click();
      await row
        .getByRole('status')
        .filter({ hasText: `Audit of ${AUDIT_SITE} queued.` })
        .waitFor();

      // The picking rule: the disabled site is never picked, so the next site is T2_TEST again.
      await page.getByRole('button', { name: 'Run the next site' }).click();
      await page
        .locator('.audit-header-actions')
        .getByRole('status')
        .filter({ hasText: `Audit of ${AUDIT_SITE} queued.` })
        .waitFor();
    });
  });
});
