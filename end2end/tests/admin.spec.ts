import { Browser, Page } from '@playwright/test';
import { test, expect, openHydrated } from './fixtures';

async function signIn(browser: Browser, name: string, pass: string): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  return page;
}

test('an admin adds an operator, who signs in without the admin pages', async ({ page, browser }) => {
  const name = `op${Date.now()}`;
  page.on('dialog', (d) => d.accept());
  await openHydrated(page, '/admin/users');
  const add = page.getByTestId('add-user');
  await add.getByLabel('Name').fill(name);
  await add.getByLabel('Role').selectOption('operator');
  await add.getByLabel('Password').fill('operator-password');
  await add.getByRole('button', { name: 'Add user' }).click();
  const row = page.locator(`tr[data-user="${name}"]`);
  await expect(row.getByTestId('role')).toHaveValue('operator');
  await expect(page.getByTestId('admin-notice')).toHaveText('Saved.');
  // The admin's own role cannot be changed here.
  await expect(page.locator('tr[data-user="admin"]').getByTestId('role')).toBeDisabled();

  const operator = await signIn(browser, name, 'operator-password');
  await expect(operator.getByTestId('user-menu').locator('.role-badge')).toHaveText('operator');
  await expect(operator.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' })).toHaveCount(0);
  await openHydrated(operator, '/admin/users');
  await expect(operator.getByText('Only admins may see this page.')).toBeVisible();
  await expect(operator.getByTestId('users')).toHaveCount(0);

  // Removed: the operator's session ends with the next request.
  await row.getByTestId('remove').click();
  await expect(row).toHaveCount(0);
  await operator.goto('/workers');
  await expect(operator).toHaveURL(/\/login\?next=%2Fworkers$/);
  await operator.context().close();
});

test('an admin creates a token, sees it once, and revokes it; the audit log says so', async ({ page, request }) => {
  const name = `script ${Date.now()}`;
  page.on('dialog', (d) => d.accept());
  await openHydrated(page, '/admin/tokens');
  // Every admin page marks "Admin" in the main navigation as the current section.
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' })).toHaveAttribute('aria-current', 'page');
  const form = page.getByTestId('create-token');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('ingest').uncheck();
  await form.getByLabel('read').check();
  await form.getByRole('button', { name: 'Create token' }).click();
  const value = (await page.getByTestId('token-value').locator('code').textContent())!;
  expect(value).toMatch(/^td_[0-9a-f]{12}_[0-9a-f]{64}$/);
  const id = value.split('_')[1];
  const row = page.locator(`tr[data-token="${id}"]`);
  await expect(row).toContainText(name);
  await expect(row).toContainText('read');
  // The list never shows the secret again.
  await openHydrated(page, '/admin/tokens');
  await expect(page.getByTestId('token-value')).toHaveCount(0);
  expect(await page.content()).not.toContain(value.slice(20));

  // A bearer token is used instead of the session this test's requests also carry.
  const ok = await request.get('/api/v1/queues', { headers: { Authorization: `Bearer ${value}` } });
  expect(ok.status()).toBe(200);
  await page.locator(`tr[data-token="${id}"]`).getByTestId('revoke-token').click();
  await expect(page.locator(`tr[data-token="${id}"]`)).toHaveCount(0);
  const refused = await request.get('/api/v1/queues', { headers: { Authorization: `Bearer ${value}` } });
  expect(refused.status()).toBe(401);

  await openHydrated(page, '/admin/audit');
  await page.getByTestId('audit-search').fill(id);
  await page.getByRole('button', { name: 'Search the log' }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/audit\\?q=${id}$`));
  const rows = page.getByTestId('audit').locator('tbody tr');
  await expect(rows.first()).toContainText('token.use');
  await expect(rows.first()).toContainText('denied');
  await expect(page.getByTestId('audit')).toContainText('token.delete');
  await expect(page.getByTestId('audit')).toContainText('token.create');
});
