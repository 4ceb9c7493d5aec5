import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { eventually, logIn, screenshot, skipWithoutChromium, useDashboard, withPage } from './browser.js';

async function shownCodes(page: Page): Promise<string[]> {
  const codes = await page.locator('.alerts-table tbody td.code').allTextContents();
  return codes.map((code) => code.trim()).sort();
}

describe('alerts page', { skip: skipWithoutChromium }, () => {
  const suite = useDashboard();

  it('lists active alerts with their severity, read-only for visitors', async () => {
    const active = suite.dashboard.seed.alerts.filter((a) => !a.resolved);
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/alerts');
      await page.locator('.alerts-table').waitFor();
      assert.deepEqual(await shownCodes(page), active.map((a) => a.code).sort());
      for (const alert of active) {
        const row = page.locator(`.alerts-table tbody tr[data-alert="${alert.code}"]`);
        assert.equal((await row.locator('.badge').textContent())?.trim(), alert.severity);
        await row.getByText(alert.message).waitFor();
      }
      assert.equal(await page.getByRole('button', { name: 'Resolve', exact: true }).count(), 0);
      await screenshot(page, 'alerts');
    });
  });

  it('lets an operator resolve an alert, which moves it out of the active list', async () => {
    const [target] = suite.dashboard.seed.alerts.filter((a) => !a.resolved && a.severity === 'critical');
    assert.ok(target);
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await logIn(page, suite.dashboard.users.operator);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
      const row = page.locator(`.alerts-table tbody tr[data-alert="${target.code}"]`);
      await row.getByRole('button', { name: 'Resolve', exact: true }).click();
      await row.waitFor({ state: 'detached' });

      await page
        .getByRole('group', { name: 'Alert state' })
        .getByRole('button', { name: 'Resolved', exact: true })
        .click();
      await eventually(async () => assert.ok((await shownCodes(page)).includes(target.code)));
      const resolved = suite.dashboard.seed.alerts.filter((a) => a.resolved).map((a) => a.code);
      for (const code of resolved) assert.ok((await shownCodes(page)).includes(code));

      await page.getByRole('group', { name: 'Alert state' }).getByRole('button', { name: 'All' }).click();
      await eventually(async () =>
        assert.equal((await shownCodes(page)).length, suite.dashboard.seed.alerts.length),
      );
    });
  });
});
