import { test, expect, openHydrated, markDocument, documentMarked } from './fixtures';

test('home page renders the shell and this instance\'s health', async ({ page }) => {
  const response = await openHydrated(page, '/');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('Overview · taskdeck');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Overview', 'Queues', 'Tasks', 'Workers']) {
    await expect(nav.getByRole('link', { name })).toBeVisible();
  }
  const card = page.getByTestId('system-card');
  await expect(card).toContainText('sqlite');
  await expect(card).toContainText('Redis');
  await expect(card.locator('.badge.ok')).toHaveCount(2);
  const favicon = await page.request.get('/favicon.svg');
  expect(favicon.status()).toBe(200);
});

test('a click changes state without a full reload (hydrated)', async ({ page }) => {
  await openHydrated(page, '/');
  await markDocument(page);
  const recheck = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/ui/system_status' && r.status() === 200);
  await page.getByTestId('recheck').click();
  const body = await (await recheck).json();
  expect(body.status).toBe('ok');
  await expect(page.getByTestId('recheck')).toBeEnabled();
  expect(await documentMarked(page)).toBe(true);
});

test('navigation is client-side and marks the current page', async ({ page }) => {
  await openHydrated(page, '/');
  await markDocument(page);
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [name, path] of [
    ['Queues', '/queues'],
    ['Tasks', '/tasks'],
    ['Workers', '/workers'],
  ]) {
    await nav.getByRole('link', { name }).click();
    await expect(page).toHaveURL(path);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
    await expect(nav.getByRole('link', { name })).toHaveAttribute('aria-current', 'page');
    await expect(page).toHaveTitle(`${name} · taskdeck`);
  }
  await page.goBack();
  await expect(page).toHaveURL('/tasks');
  expect(await documentMarked(page)).toBe(true);
});

test('theme toggle switches colours and persists across reload', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await openHydrated(page, '/');
  const html = page.locator('html');
  await expect(html).toHaveAttribute('data-theme', 'system');
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();

  await page.getByTestId('theme-toggle').click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  expect(await background()).not.toBe(light);

  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await expect(html).toHaveAttribute('data-hydrated', 'true');
  expect(await background()).not.toBe(light);

  await page.getByTestId('theme-toggle').click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'light');
});

test('theme follows a dark system until the user chooses', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await openHydrated(page, '/');
  await expect(page.locator('.theme-toggle .icon-sun')).toBeVisible();
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await expect(page.locator('.theme-toggle .icon-moon')).toBeVisible();
});

test('language switch translates the page and persists', async ({ page }) => {
  await openHydrated(page, '/queues');
  await markDocument(page);
  await page.getByTestId('language').selectOption('zh-CN');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: '队列' })).toBeVisible();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('队列');
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  expect(await documentMarked(page)).toBe(true);

  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('队列');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('language').selectOption('en');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Queues');
});

test('the browser language is the default', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('总览');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await context.close();
});

test('unknown pages answer 404 with a way back', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.getByRole('link', { name: 'Back to the overview' }).click();
  await expect(page).toHaveURL('/');
});

test('on a phone (390 px) every page is reachable from the navigation', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await openHydrated(page, '/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [name, path] of [
    ['Queues', '/queues'],
    ['Tasks', '/tasks'],
    ['Failures', '/failures'],
    ['Workers', '/workers'],
    ['Admin', '/admin/users'],
    ['Overview', '/'],
  ]) {
    const link = nav.getByRole('link', { name, exact: true });
    await expect(link).toBeVisible();
    await link.click();
    await expect(page).toHaveURL(path);
    // Wide content (tables) scrolls inside its card: the page itself never scrolls sideways.
    if (path === '/admin/users') await expect(page.getByTestId('users')).toBeVisible();
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
  }
  // Nothing of the page is hidden under the bar.
  const bar = await page.locator('header.topbar').boundingBox();
  const heading = await page.getByRole('heading', { level: 1 }).boundingBox();
  expect(heading!.y).toBeGreaterThanOrEqual(bar!.y + bar!.height);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});
