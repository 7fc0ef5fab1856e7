import { test, expect, openHydrated, redisNow, beat, redisUrl } from './fixtures';

test('consumers of both kinds are listed and one whose heartbeats stop turns stale', async ({ page }) => {
  test.skip(!redisUrl, 'needs TASKDECK_E2E_REDIS (run with `make test`)');
  const queue = `e2e_workers_${Date.now()}`;
  const now = redisNow();
  beat(queue, `${queue}-fb`, now, {});
  // Last heard 12 s ago: alive now, stale within the next refreshes.
  beat(queue, `${queue}-rs`, now - 12, {
    worker_kind: 'taskdeck-rust', capabilities: ['pause', 'kill', 'revoke'], concurrency: 8, running: 3,
  });

  await openHydrated(page, '/workers');
  const group = page.locator(`tbody[data-group="${queue}"]`);
  const funboost = group.locator(`tr[data-consumer="${queue}-fb"]`);
  const rust = group.locator(`tr[data-consumer="${queue}-rs"]`);
  await expect(funboost).toHaveAttribute('data-liveness', 'alive');
  await expect(funboost).toContainText('funboost');
  await expect(funboost).toContainText('pause, kill');
  await expect(rust).toContainText('taskdeck-rust');
  await expect(rust).toContainText('3 / 8');
  await expect(rust).toContainText('pause, kill, revoke');
  await expect(group.locator('.group-row')).toContainText('/ 2 alive');

  // No further heartbeat from the Rust consumer: the page marks it stale by itself.
  await expect(rust).toHaveAttribute('data-liveness', 'stale', { timeout: 15_000 });
  await expect(rust).toContainText('stale');
  await expect(page.getByTestId('stale-count')).toBeVisible();

  // Grouped by host, the queue name moves into the rows.
  await page.getByRole('button', { name: 'By host' }).click();
  await expect(page.locator('tbody[data-group="e2e-host (192.0.2.50)"]')).toContainText(queue);
});
