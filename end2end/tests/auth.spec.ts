import { Browser, Page } from '@playwright/test';
import { test, expect, openHydrated } from './fixtures';

const password = process.env.TASKDECK_E2E_PASSWORD!;

/** A visitor without a session (the tests' own context is signed in). */
async function stranger(browser: Browser, locale = 'en-US'): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] }, locale });
  return context.newPage();
}

test('a visitor signs in, lands where they were going, and signs out', async ({ browser }) => {
  const page = await stranger(browser);
  await page.goto('/tasks?state=failed');
  await expect(page).toHaveURL(/\/login\?next=%2Ftasks%3Fstate%3Dfailed$/);
  await expect(page).toHaveTitle('Sign in to taskdeck');
  await expect(page.getByRole('heading', { name: 'Sign in to taskdeck' })).toBeVisible();

  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('login-notice')).toHaveText('Wrong user name or password.');
  // The name stays; the password field has the focus for the next try.
  await expect(page.getByLabel('User name')).toHaveValue('admin');
  await expect(page.getByLabel('Password')).toBeFocused();

  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/tasks\?state=failed$/);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const menu = page.getByTestId('user-menu');
  await expect(menu).toContainText('admin');
  await expect(menu.locator('.role-badge')).toHaveText('admin');
  // The session cookie is out of scripts' reach.
  expect(await page.evaluate(() => document.cookie)).not.toContain('taskdeck_session');

  await page.getByTestId('sign-out').click();
  await expect(page).toHaveURL(/\/login\?done=out$/);
  await expect(page.getByTestId('login-notice')).toHaveText('You have signed out.');
  await page.goto('/workers');
  await expect(page).toHaveURL(/\/login\?next=%2Fworkers$/);
  await page.context().close();
});

test('the sign-in page speaks the visitor\'s language and is inert to what it echoes', async ({ browser }) => {
  const page = await stranger(browser, 'zh-CN');
  await page.goto('/login?next=%22%3E%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E');
  await expect(page.getByRole('heading', { name: '登录 taskdeck' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await page.getByLabel('用户名').fill('<img src=x onerror="window.__pwned=2">');
  await page.getByLabel('密码').fill('whatever-it-is');
  await page.getByRole('button', { name: '登录' }).click();
  await expect(page.getByTestId('login-notice')).toHaveText('用户名或密码错误。');
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await page.context().close();
});

test('a signed-in page names its user', async ({ page }) => {
  await openHydrated(page, '/');
  const menu = page.getByTestId('user-menu');
  await expect(menu).toContainText('admin');
  await expect(menu.getByTestId('sign-out')).toBeVisible();
});
