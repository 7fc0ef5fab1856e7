import type { Page } from '@playwright/test';
import { test, expect, openHydrated, redis, redisNow, redisUrl, beat, finish } from './fixtures';

// Times must follow the browser's zone, not the server's (UTC here).
test.use({ timezoneId: 'Asia/Shanghai' });

/** Per series of a chart: the sum of its data (nulls as 0). */
async function chartSums(page: Page, id: string): Promise<number[]> {
  return page.evaluate((id) => {
    // Between two renders the chart's element may be gone for a moment: report "nothing yet".
    const el = document.getElementById(id);
    const chart = el && (window as any).echarts.getInstanceByDom(el);
    if (!chart) return [];
    return chart.getOption().series.map((s: any) => s.data.reduce((a: number, v: any) => a + (v ?? 0), 0));
  }, id);
}

async function axisLabels(page: Page, id: string): Promise<string[]> {
  return page.evaluate((id) => {
    const el = document.getElementById(id);
    const chart = el && (window as any).echarts.getInstanceByDom(el);
    return chart ? chart.getOption().xAxis[0].data : [];
  }, id);
}

test('a queue page charts what was ingested and redraws within a second of new events', async ({ page }) => {
  const queue = `e2e_queue_${Date.now()}`;
  await finish(page, queue, 'a', 6, 2);
  await openHydrated(page, `/queues/${queue}?range=second`);
  await expect(page.getByTestId('queue-name')).toHaveText(queue);
  await expect(page.locator('#chart-finished canvas')).toHaveCount(1);
  await expect.poll(() => chartSums(page, 'chart-finished')).toEqual([6, 2, 0]);
  await expect(page.getByTestId('total-minute').locator('[data-col="success"]')).toHaveText('6');
  await expect(page.getByTestId('total-minute').locator('[data-col="failed"]')).toHaveText('+2 ✗');
  // Run time 0.5 s: every quantile of the one bucket reads it, within the histogram's
  // resolution.
  const run = await chartSums(page, 'chart-run');
  expect(run).toHaveLength(3);
  for (const q of run) expect(Math.abs(q - 500)).toBeLessThan(50);

  // Pushed, not polled: the same canvas redraws within a second.
  const canvas = await page.locator('#chart-finished canvas').elementHandle();
  await finish(page, queue, 'b', 3, 0);
  await expect.poll(() => chartSums(page, 'chart-finished'), { timeout: 1_000 }).toEqual([9, 2, 0]);
  expect(await canvas!.evaluate((c) => c.isConnected)).toBe(true);

  // Bucket labels are in the browser's zone, and the zone is named.
  await expect(page.getByTestId('zone')).toContainText('Asia/Shanghai');
  const labels = await axisLabels(page, 'chart-finished');
  expect(labels).toHaveLength(60);
  const shanghai = (t: number) => new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(t);
  const now = Date.now();
  expect([shanghai(now), shanghai(now - 1000), shanghai(now - 2000)]).toContain(labels[59]);

  // Another grain is another link, with its own window.
  await page.locator('[data-range="hour"]').click();
  await expect(page).toHaveURL(/range=hour/);
  await expect.poll(async () => (await axisLabels(page, 'chart-finished')).length).toBe(24);
  await expect.poll(() => chartSums(page, 'chart-finished')).toEqual([9, 2, 0]);
});

test('a funboost queue shows its consumers and parameters, and a fixed range stays put', async ({ page }) => {
  test.skip(!redisUrl, 'needs TASKDECK_E2E_REDIS (run with `make test`)');
  const queue = `e2e_queue_fb_${Date.now()}`;
  beat(queue, `${queue}-c1`, redisNow(), {});
  redis('HSET', 'funboost_queue__consumer_parmas', queue, JSON.stringify({
    queue_name: queue, broker_kind: 'REDIS_ACK_ABLE', concurrent_num: 50, qps: 3, max_retry_times: 4,
  }));
  for (let i = 0; i < 4; i++) redis('RPUSH', queue, JSON.stringify({ x: i, extra: { task_id: `${queue}-${i}` } }));
  await finish(page, queue, 'a', 2, 0);

  await openHydrated(page, `/queues/${queue}`);
  await expect(page.getByTestId('queue-consumers').locator(`tr[data-consumer="${queue}-c1"]`)).toContainText('funboost');
  const params = page.getByTestId('queue-params');
  await expect(params).toContainText('concurrent_num');
  await expect(params).toContainText('50');
  await expect(page.getByTestId('total-waiting')).toContainText('4');
  await expect(page.locator('.title-row')).toContainText('REDIS_ACK_ABLE');

  // A custom range, read in the browser's zone, goes into the address.
  await page.locator('[data-range="custom"]').click();
  const form = page.getByTestId('range-form');
  const shanghaiInput = (t: number) => new Date(t + 8 * 3600_000).toISOString().slice(0, 16);
  const from = Date.now() - 30 * 60_000;
  await form.locator('input[name="from"]').fill(shanghaiInput(from));
  await form.locator('input[name="to"]').fill(shanghaiInput(Date.now() + 60_000));
  await form.locator('select[name="grain"]').selectOption('minute');
  await form.getByRole('button').click();
  await expect(page).toHaveURL(/grain=minute&from=\d+&to=\d+/);
  const url = new URL(page.url());
  expect(Math.abs(Number(url.searchParams.get('from')) - Math.floor(from / 60_000) * 60)).toBeLessThanOrEqual(60);
  await expect.poll(() => chartSums(page, 'chart-finished')).toEqual([2, 0, 0]);
  // Fixed means fixed: new events do not move it.
  await finish(page, queue, 'b', 5, 0);
  await page.waitForTimeout(1_500);
  expect(await chartSums(page, 'chart-finished')).toEqual([2, 0, 0]);

  // A range the other way round is refused before asking the server.
  await form.locator('input[name="from"]').fill(shanghaiInput(Date.now()));
  await form.locator('input[name="to"]').fill(shanghaiInput(Date.now() - 3600_000));
  await form.getByRole('button').click();
  await expect(form).toContainText('Choose a start before the end.');
});

test('a queue nobody knows says so instead of showing zeros', async ({ page }) => {
  await openHydrated(page, '/queues/no_such_queue_anywhere');
  await expect(page.locator('.empty-state')).toContainText('Nothing known about this queue yet');
});
