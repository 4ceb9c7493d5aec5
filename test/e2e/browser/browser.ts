// Real Chromium for the browser tests, plus the few helpers every test file uses.
import { mkdir } from 'node:fs/promises';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { hasProgram, requirement } from '../../helpers/environment.js';
import { startDashboard, type Credentials, type Dashboard } from './server.js';
import { TIMEZONE } from './seed.js';

/** The `skip` option for a browser suite: a reason when chromium is missing (fails under CI). */
export const skipWithoutChromium = requirement(hasProgram('chromium'), 'apt-get install -y chromium');

export const SHOTS_DIR = '/tmp/custodian-shots';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface BrowserSuite {
  dashboard: Dashboard;
  browser: Browser;
}

/** For a `describe`: a seeded dashboard and Chromium, started before its tests and stopped after. */
export function useDashboard(): BrowserSuite {
  const suite: Partial<BrowserSuite> = {};
  before(async () => {
    suite.dashboard = await startDashboard();
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.dashboard?.close();
  });
  return suite as BrowserSuite;
}

/** Runs `use` on a fresh page (own cookies) in the seed's time zone, closing it afterwards. */
export async function withPage(
  browser: Browser,
  dashboard: Dashboard,
  use: (page: Page, context: BrowserContext) => Promise<void>,
): Promise<void> {
  const context = await browser.newContext({
    baseURL: dashboard.baseUrl,
    timezoneId: TIMEZONE,
    viewport: { width: 1280, height: 860 },
  });
  context.setDefaultTimeout(10_000);
  try {
    await use(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

export async function logIn(page: Page, who: Credentials): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('current-user').filter({ hasText: who.username }).waitFor();
}

/** Retries an assertion until it holds or the time is up; the last failure is rethrown. */
export async function eventually(assertion: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS_DIR, { recursive: true });
  await page.screenshot({ path: `${SHOTS_DIR}/${name}.png`, fullPage: true });
}
