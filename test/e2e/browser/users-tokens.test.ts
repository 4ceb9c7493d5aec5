import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logIn, skipWithoutChromium, useDashboard, withPage } from './browser.js';

describe('users and tokens page', { skip: skipWithoutChromium }, () => {
  const suite = useDashboard();

  it('lists users and adds one with a role', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await logIn(page, suite.dashboard.users.admin);
      await page.goto('/users');
      for (const user of suite.dashboard.seed.users) {
        await page.locator('.users-table tbody tr', { hasText: user.name }).first().waitFor();
      }
      const form = page.getByRole('form', { name: 'Add user' });
      await form.getByLabel('Name').fill('newcomer');
      await form.getByLabel('Role').selectOption('operator');
      await form.getByLabel('Password').fill('newcomer-password-1');
      await form.getByRole('button', { name: 'Add user' }).click();
      const row = page.locator('.users-table tbody tr', { hasText: 'newcomer' });
      await row.waitFor();
      assert.match((await row.textContent()) ?? '', /operator/);
    });
  });

  it('shows a new token once and never again', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await logIn(page, suite.dashboard.users.admin);
      await page.goto('/users');
      const form = page.getByRole('form', { name: 'Create token' });
      await form.getByLabel('User').selectOption(suite.dashboard.users.operator.username);
      await form.getByLabel('Label').fill('upload script');
      await form.getByRole('button', { name: 'Create token' }).click();

      const shown = page.getByLabel('New token');
      await shown.waitFor();
      const token = await shown.inputValue();
      assert.ok(token.length >= 16, `a token was shown: ${token}`);
      await page.getByText('it will not be shown again').waitFor();
      await page.locator('.tokens-table tbody tr', { hasText: 'upload script' }).waitFor();

      await page.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached' });
      await page.reload();
      await page.locator('.tokens-table tbody tr', { hasText: 'upload script' }).waitFor();
      assert.equal(await page.getByLabel('New token').count(), 0);
      assert.equal((await page.content()).includes(token), false, 'the token is not on the page any more');
    });
  });

  it('revokes a token', async () => {
    await withPage(suite.browser, suite.dashboard, async (page) => {
      await logIn(page, suite.dashboard.users.admin);
      await page.goto('/users');
      const form = page.getByRole('form', { name: 'Create token' });
      await form.getByLabel('Label').fill('short-lived');
      await form.getByRole('button', { name: 'Create token' }).click();
      const row = page.locator('.tokens-table tbody tr', { hasText: 'short-lived' });
      await row.waitFor();
      page.once('dialog', (dialog) => void dialog.accept());
      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.waitFor({ state: 'detached' });
    });
  });
});
