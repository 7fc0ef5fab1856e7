import { test, expect, openHydrated, postEvents } from './fixtures';

/** Events sent through the REST API show up in the queue and task tables. */
test('recorded tasks and queues are listed, untrusted text stays inert', async ({ page }) => {
  const queue = `e2e_${Date.now()}`;
  const now = Date.now() / 1000;
  const xss = '<img src=x onerror="window.__xss=1">';
  const events = [
    { task_id: `${queue}-ok`, queue_name: queue, function: 'resize', state: 'success', params: { id: 1 },
      publish_time: now - 2, time_start: now - 1.5, time_end: now - 1, time_cost: 0.5, host_name: 'worker-e2e' },
    { task_id: `${queue}-bad`, queue_name: queue, function: 'resize', state: 'failed', params: { note: xss },
      exception_type: 'ValueError', exception_msg: xss, time_start: now - 1, time_end: now - 0.5, time_cost: 0.5 },
    { task_id: `${queue}-run`, queue_name: queue, function: 'resize', state: 'running', time_start: now },
  ];
  const response = await postEvents(page, events);
  expect(response.status()).toBe(202);
  expect((await response.json()).accepted).toBe(3);

  await openHydrated(page, '/tasks');
  const table = page.getByTestId('task-table');
  const failed = table.locator(`tr[data-task-id="${queue}-bad"]`);
  await expect(failed).toContainText('failed');
  await expect(failed.locator('.exception-cell')).toContainText('ValueError');
  await expect(failed.locator('.exception-cell')).toContainText(xss);
  await expect(table.locator(`tr[data-task-id="${queue}-ok"]`)).toContainText('500 ms');
  await expect(table.locator(`tr[data-task-id="${queue}-run"]`)).toContainText('running');
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(await table.locator('img').count()).toBe(0);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Queues' }).click();
  const row = page.getByTestId('queue-table').locator('tr', { hasText: queue });
  await expect(row).toBeVisible();
  // Running 1; succeeded and failed 1 each in the last minute and hour.
  await expect(row.locator('td')).toHaveText([queue, '1', '1', '1', '1', '1', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/]);
  // Times are in the browser's zone (this browser's is UTC), named in the column head.
  await expect(page.getByTestId('queue-table').locator('th').last()).toContainText('UTC');
});
