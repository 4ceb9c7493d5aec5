import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logIn, skipWithoutChromium, useDashboard, withPage } from './browser.js';

describe('dashboard navigation and login', { skip: skipWithoutChromium }, () => {
  const suite = useDashboard();

  it('shows Runs and Alerts to a visitor, and no admin pages', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/');
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Runs' }).waitFor();
      await nav.getByRole('link', { name: 'Alerts' }).waitFor();
      assert.equal(await nav.getByRole('link', { name: 'Users & tokens' }).count(), 0);
      // The start page is the ingest module's runs.
      assert.equal(new URL(page.url()).pathname, '/runs');
      await page.getByRole('banner').getByRole('link', { name: 'Log in' }).waitFor();
    });
  });

  it('says why a login with a wrong password failed', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await page.goto('/login');
      await page.getByLabel('Username').fill(suite.dashboard.users.admin.username);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      const error = page.getByRole('alert');
      await error.waitFor();
      assert.notEqual((await error.textContent())?.trim() ?? '', '');
      assert.equal(await page.getByTestId('current-user').count(), 0);
      assert.equal(new URL(page.url()).pathname, '/login');
    });
  });

  it('shows Users & tokens to an admin after login, and hides it again after logout', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await logIn(page, suite.dashboard.users.admin);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Users & tokens' }).click();
      await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('banner').getByRole('link', { name: 'Log in' }).waitFor();
      assert.equal(await nav.getByRole('link', { name: 'Users & tokens' }).count(), 0);
    });
  });

  it('keeps Users & tokens from a viewer', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await logIn(page, suite.dashboard.users.viewer);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Alerts' }).waitFor();
      assert.equal(await nav.getByRole('link', { name: 'Users & tokens' }).count(), 0);
    });
  });
});
