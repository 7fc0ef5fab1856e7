import { test, expect, openHydrated, beat, redisNow, redisUrl } from './fixtures';

test.use({ timezoneId: 'Asia/Shanghai' });

/** A failed task with hostile text everywhere: every field shown, nothing executed. */
test('task detail shows every field, the traceback and the timeline; untrusted text stays inert', async ({ page }) => {
  const queue = `e2e_task_${Date.now()}`;
  const id = `${queue}-<img src=x onerror="window.__xss=1">`;
  const xss = '<script>window.__xss=2</script><img src=x onerror="window.__xss=3">';
  const publish = Math.floor(Date.now() / 1000) - 10 + 0.125;
  // Shanghai keeps UTC+8 all year.
  const shanghai = (epoch: number) => new Date((epoch + 8 * 3600) * 1000).toISOString().replace('T', ' ').slice(0, 23);
  const event = {
    task_id: id, queue_name: queue, function: 'charge', state: 'failed', run_times: 3,
    params: { card: xss, amount: 12.5, items: [{ sku: 'A-1', qty: 2 }], vip: true, note: null },
    publish_time: publish, time_start: publish + 1.375, time_end: publish + 3.125, time_cost: 1.75,
    exception_type: 'CardDeclined', exception_msg: `declined ${xss}`,
    traceback: `Traceback (most recent call last):\n  File "pay.py", line 7, in charge\nCardDeclined: declined ${xss}`,
    host_name: 'e2e-task-host', process_id: 4242, thread_id: 77, script_name: 'pay.py', consumer_id: 'c-1',
    custom_field: xss,
  };
  expect((await page.request.post('/api/v1/events', { data: [event] })).status()).toBe(202);

  // Reached from the tasks list by its link (the id is percent-encoded into the path).
  await openHydrated(page, '/tasks');
  await page.getByTestId('task-table').locator(`tr[data-task-id="${id.replace(/"/g, '\\"')}"] a.task-link`).click();
  await expect(page.getByTestId('task-id')).toHaveText(id);
  await expect(page.getByTestId('task-state')).toHaveText('failed');
  await expect(page.locator('.task-sub')).toContainText(queue);

  const timeline = page.getByTestId('task-timeline');
  await expect(timeline.locator('li')).toHaveText([
    `Published${shanghai(publish)}`,
    `Started${shanghai(publish + 1.375)}waited 1.38 s`,
    `failed${shanghai(publish + 3.125)}ran 1.75 s`,
  ]);
  await expect(page.getByText('Times in Asia/Shanghai')).toBeVisible();
  await expect(page.getByTestId('task-attempts')).toHaveText('3');

  const exception = page.getByTestId('task-exception');
  await expect(exception).toContainText(`CardDeclined: declined ${xss}`);
  await expect(page.getByTestId('task-traceback')).toHaveText(event.traceback);

  const params = page.getByTestId('task-params');
  await expect(params).toContainText(`card: ${JSON.stringify(xss)}`);
  await expect(params).toContainText('amount: 12.5');
  await expect(params).toContainText('vip: true');
  await expect(params).toContainText('note: null');
  // Two levels open at first; deeper ones fold and unfold.
  const item = params.locator('details details details').first();
  await expect(item).not.toHaveAttribute('open', '');
  await item.locator('summary').click();
  await expect(item).toContainText('sku: "A-1"');
  await expect(page.getByTestId('task-extra')).toContainText(`custom_field: ${JSON.stringify(xss)}`);

  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(await page.locator('main img, main script').count()).toBe(0);

  await expect(page.getByTestId('same-params')).toHaveAttribute('href', /^\/tasks\?queue=.+&q=%7B/);
  await page.getByTestId('host-workers').click();
  await expect(page).toHaveURL(/\/workers\?host=e2e-task-host$/);
  await expect(page.getByTestId('host-filter')).toContainText('e2e-task-host');
});

test('the workers link keeps only that host', async ({ page }) => {
  test.skip(!redisUrl, 'needs the Redis that taskdeck reads heartbeats from');
  const queue = `e2e_hosts_${Date.now()}`;
  const now = redisNow();
  beat(queue, `${queue}-here`, now, { computer_name: 'e2e-host-a' });
  beat(queue, `${queue}-there`, now, { computer_name: 'e2e-host-b' });
  await openHydrated(page, '/workers?host=e2e-host-a');
  const table = page.getByTestId('worker-table');
  await expect(table.locator(`tr[data-consumer="${queue}-here"]`)).toBeVisible();
  await expect(table.locator(`tr[data-consumer="${queue}-there"]`)).toHaveCount(0);
  await page.getByRole('link', { name: 'Show every host' }).click();
  await expect(table.locator(`tr[data-consumer="${queue}-there"]`)).toBeVisible();
});

test('an unknown task id is explained', async ({ page }) => {
  await openHydrated(page, '/tasks/no-such-task-e2e');
  await expect(page.getByTestId('task-id')).toHaveText('no-such-task-e2e');
  await expect(page.getByText('No such task')).toBeVisible();
});
