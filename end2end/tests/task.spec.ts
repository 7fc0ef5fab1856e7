import { test, expect, openHydrated, postEvents, beat, redisNow, redisUrl } from './fixtures';

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
  expect((await postEvents(page, [event])).status()).toBe(202);

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
  // Ran three times without reporting each attempt: the page says what its times span.
  await expect(page.getByText('started is when the first attempt began')).toBeVisible();
  await expect(page.getByTestId('task-attempt-table')).toHaveCount(0);

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

/** A task that failed twice, then succeeded: each attempt in order, to scale, inert. */
test('a retried task shows each attempt with its outcome, exception and the pause before it', async ({ page }) => {
  const queue = `e2e_attempts_${Date.now()}`;
  const id = `${queue}-1`;
  const xss = '<img src=x onerror="window.__xss=4">';
  const t = Math.floor(Date.now() / 1000) - 60 + 0.5;
  const shanghai = (epoch: number) => new Date((epoch + 8 * 3600) * 1000).toISOString().replace('T', ' ').slice(0, 23);
  const attempts = [
    { n: 1, start: t, end: t + 1.5, state: 'failed', exception_type: 'ConnectionError', exception_msg: `refused ${xss}` },
    { n: 2, start: t + 2, end: t + 4, state: 'failed', exception_type: 'TimeoutError', exception_msg: 'no answer in 2 s' },
    { n: 3, start: t + 8, end: t + 8.25, state: 'success' },
  ];
  const event = {
    task_id: id, queue_name: queue, function: 'send', state: 'success', run_times: 3, result: { sent: true },
    publish_time: t - 0.25, time_start: t, time_end: t + 8.25, time_cost: 8.25,
    // funboost keeps the last failure's exception on a task a retry saved
    exception_type: 'TimeoutError', exception_msg: 'no answer in 2 s', attempts,
  };
  expect((await postEvents(page, [event])).status()).toBe(202);
  await openHydrated(page, `/tasks/${encodeURIComponent(id)}`);
  await expect(page.getByTestId('task-state')).toHaveText('success');
  await expect(page.getByTestId('task-timeline').locator('li').last()).toHaveText(`success${shanghai(t + 8.25)}ran 8.25 s`);

  const rows = page.getByTestId('task-attempt-table').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0).locator('td')).toHaveText(['1', shanghai(t), '', '1.50 s', 'failed', `ConnectionError: refused ${xss}`]);
  await expect(rows.nth(1).locator('td')).toHaveText(['2', shanghai(t + 2), '500 ms', '2.00 s', 'failed', 'TimeoutError: no answer in 2 s']);
  await expect(rows.nth(2).locator('td')).toHaveText(['3', shanghai(t + 8), '4.00 s', '250 ms', 'success', '']);
  // The strip draws the runs to scale over the whole 8.25 s: the third starts at 8/8.25.
  const bars = page.getByTestId('attempt-strip').locator('.attempt-bar');
  await expect(bars).toHaveCount(3);
  await expect(bars.nth(0)).toHaveClass(/state-failed/);
  await expect(bars.nth(2)).toHaveClass(/state-success/);
  const left = await bars.nth(2).evaluate((el) => (el as HTMLElement).style.left);
  expect(parseFloat(left)).toBeCloseTo((8 / 8.25) * 100, 1);
  // A success keeps an earlier attempt's exception: it is labelled as such.
  await expect(page.getByTestId('task-exception').locator('h2')).toHaveText('Exception of an earlier attempt');
  await expect(page.getByText('started is when the first attempt began')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(await page.locator('main img').count()).toBe(0);
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
