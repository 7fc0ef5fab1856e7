import type { Page } from '@playwright/test';
import { test, expect, openHydrated, redis, redisUrl, finish } from './fixtures';

async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

test('the overview shows what was ingested and follows new events live', async ({ page }) => {
  const queue = `e2e_overview_${Date.now()}`;
  await finish(page, queue, 'a', 6, 2);
  await openHydrated(page, '/');
  const row = page.locator(`tr[data-queue="${queue}"]`);
  await expect(row.locator('[data-col="success-minute"]')).toHaveText('6');
  await expect(row.locator('[data-col="failed-minute"]')).toHaveText('+2 ✗');
  await expect(row.locator('[data-col="success-hour"]')).toHaveText('6');
  await expect(row).toContainText('25% failed');
  await expect(row.locator('[data-col="waiting"]')).toHaveText('—');
  await expect(row.locator('svg.spark polyline')).toHaveCount(1);

  // Pushed, not polled: the row changes within a second of the events being committed.
  await finish(page, queue, 'b', 3, 0);
  await expect(row.locator('[data-col="success-minute"]')).toHaveText('9', { timeout: 1_000 });

  // A hidden tab closes its stream: nothing changes until it is visible again.
  await setHidden(page, true);
  await finish(page, queue, 'c', 5, 0);
  await page.waitForTimeout(2_500);
  await expect(row.locator('[data-col="success-minute"]')).toHaveText('9');
  await setHidden(page, false);
  await expect(row.locator('[data-col="success-minute"]')).toHaveText('14', { timeout: 2_000 });
});

test('a queue whose messages wait with nobody consuming reads as stalled, not idle', async ({ page }) => {
  test.skip(!redisUrl, 'needs TASKDECK_E2E_REDIS (run with `make test`)');
  const queue = `e2e_stalled_${Date.now()}`;
  const published = Date.now() / 1000 - 600;
  redis('SADD', 'funboost_all_queue_names', queue);
  for (let i = 0; i < 3; i++) {
    redis('RPUSH', queue, JSON.stringify({ x: i, extra: { task_id: `${queue}-${i}`, publish_time: published + i } }));
  }
  redis('HSET', 'funboost_pause_flag', queue, '1');
  await openHydrated(page, '/');
  const row = page.locator(`tr[data-queue="${queue}"]`);
  await expect(row.locator('[data-col="waiting"]')).toHaveText('3');
  await expect(row.locator('[data-col="oldest"]')).toHaveText(/^10m/);
  await expect(row.locator('[data-col="drain"]')).toHaveText('stalled');
  await expect(row.locator('[data-col="consumers"]')).toHaveText('no consumer');
  await expect(row).toContainText('Paused');

  // Taken by a consumer: the backlog moves to "in flight" on the next frame.
  redis('LPOP', queue);
  redis('SADD', `funboost_unack_registry:${queue}`, `${queue}__unack_id_c1`);
  redis('ZADD', `${queue}__unack_id_c1`, '1', 'm');
  await expect(row.locator('[data-col="waiting"]')).toHaveText('2', { timeout: 5_000 });
  await expect(row.locator('[data-col="in-flight"]')).toHaveText('1');
});
