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

test('a live page says so when the server cannot compute its view, and recovers', async ({ page }) => {
  let unavailable = true;
  await page.route('**/api/v1/live?view=workers*', async (route) => {
    if (!unavailable) return route.continue();
    await route.fulfill({
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' },
      body: 'id: 1\nevent: unavailable\ndata: {"error":"the broker failed: connection refused"}\n\n',
    });
  });
  await openHydrated(page, '/workers');
  const trouble = page.getByTestId('live-trouble');
  await expect(trouble).toContainText('the broker failed: connection refused');
  await expect(trouble).toContainText('may be out of date');
  // The stream reconnects; a real frame clears the notice.
  unavailable = false;
  await expect(trouble).toHaveCount(0, { timeout: 15_000 });
});
