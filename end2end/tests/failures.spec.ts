import { test, expect, openHydrated, postEvents } from './fixtures';

/** Failures of one fresh queue: two exception types, a killed task, a success, hostile text. */
async function seed(page: import('@playwright/test').Page, queue: string) {
  const now = Date.now() / 1000;
  const xss = '<img src=x onerror="window.__xss=1">';
  const failed = (n: number, type: string, msg: string, ago: number) => ({
    task_id: `${queue}-${n}`, queue_name: queue, state: 'failed', exception_type: type, exception_msg: msg,
    time_start: now - ago - 1, time_end: now - ago, time_cost: 1,
  });
  const events = [
    failed(1, 'KeyError', 'missing sku A-1', 1500),
    failed(2, 'KeyError', 'missing sku B-2', 1000),
    failed(3, 'KeyError', `missing sku ${xss}`, 60),
    failed(4, `Timeout${xss}`, 'gateway timed out', 300),
    { task_id: `${queue}-5`, queue_name: queue, state: 'killed', time_start: now - 100, time_end: now - 90 },
    { task_id: `${queue}-6`, queue_name: queue, state: 'success', time_start: now - 50, time_end: now - 49 },
    // Two days old: outside the last 24 hours.
    failed(7, 'KeyError', 'old', 2 * 86400),
  ];
  expect((await postEvents(page, events)).status()).toBe(202);
  return xss;
}

test('failures are grouped by exception with counts, trend and the latest message; a group opens its tasks', async ({ page }) => {
  const queue = `e2e_fail_${Date.now()}`;
  const xss = await seed(page, queue);

  await openHydrated(page, `/failures?queue=${queue}`);
  await expect(page.getByTestId('failure-summary')).toHaveText('5 failures in 3 groups');
  const rows = page.getByTestId('failure-table').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  // Most frequent first.
  const first = rows.nth(0);
  await expect(first).toHaveAttribute('data-exception', 'KeyError');
  await expect(first.locator('[data-col=count]')).toHaveText('3');
  await expect(first.locator('td.sample')).toContainText(`missing sku ${xss}`);
  await expect(first.locator('td.sample a.task-link')).toHaveText(`${queue}-3`);
  await expect(first.locator('svg.spark')).toBeVisible();
  await expect(page.locator(`tr[data-state=killed] [data-testid=failure-group]`)).toHaveText('killed');
  await expect(page.getByTestId('failure-group').filter({ hasText: `Timeout${xss}` })).toHaveText(`Timeout${xss}`);
  await expect(page.locator('td img')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  await expect(page.locator('[data-range="24h"]')).toHaveAttribute('aria-current', 'true');

  // The last 15 minutes hold one KeyError and the others.
  await page.locator('[data-range="15m"]').click();
  await expect(page).toHaveURL(new RegExp(`/failures\\?range=15m&queue=${queue}$`));
  await expect(page.getByTestId('failure-summary')).toHaveText('3 failures in 3 groups');

  // A group opens the tasks list filtered to it, over the same range.
  await page.getByTestId('failure-group').filter({ hasText: 'KeyError' }).click();
  await expect(page).toHaveURL(new RegExp(`/tasks\\?queue=${queue}&state=failed&range=15m&exception_type=KeyError$`));
  await expect(page.getByTestId('task-table').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('task-table').locator('tbody tr').first()).toHaveAttribute('data-task-id', `${queue}-3`);
});

test('a quiet range says so, and a bad one says why', async ({ page }) => {
  await openHydrated(page, `/failures?queue=e2e_nothing_${Date.now()}`);
  await expect(page.getByText('No failures in this range')).toBeVisible();
  await openHydrated(page, '/failures?range=2w');
  await expect(page.getByTestId('failures-error')).toContainText('unknown range "2w"');
});
