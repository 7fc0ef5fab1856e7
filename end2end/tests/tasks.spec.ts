import { test, expect, openHydrated, postEvents } from './fixtures';
import type { Page } from '@playwright/test';

type Seed = { task_id: string; queue_name: string; state: string; [k: string]: unknown };

/** Posts events and waits for their commit (the API answers 202 after it). */
async function post(page: Page, events: Seed[]) {
  const response = await postEvents(page, events);
  expect(response.status()).toBe(202);
}

/** Follows a pager link and waits until the table shows another page. */
async function turn(page: Page, link: string) {
  const firstRow = page.getByTestId('task-table').locator('tbody tr').first();
  const before = await firstRow.getAttribute('data-task-id');
  await page.getByTestId(link).first().click();
  await expect(firstRow).not.toHaveAttribute('data-task-id', before!);
}

/** The task ids the table shows, top to bottom. */
async function shown(page: Page): Promise<string[]> {
  await expect(page.getByTestId('task-table')).toBeVisible();
  return page.getByTestId('task-table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task-id')!));
}

/** Two queues' worth of tasks: states, hosts, exceptions and params that filters tell apart. */
function seed(tag: string) {
  const now = Date.now() / 1000;
  const [a, b] = [`${tag}_a`, `${tag}_b`];
  const events: Seed[] = [];
  for (let i = 0; i < 30; i++) {
    const queue = i % 2 ? b : a;
    const failed = i % 5 === 0;
    events.push({
      task_id: `${tag}-${String(i).padStart(2, '0')}`, queue_name: queue, function: i % 3 ? 'resize' : 'crop',
      state: failed ? 'failed' : 'success', params: { n: i, note: i === 7 ? `needle-${tag}` : 'hay' },
      time_start: now - 600 + i, time_end: now - 599 + i, time_cost: 1,
      host_name: i % 4 ? `${tag}-h1` : `${tag}-h2`,
      ...(failed ? { exception_type: i % 10 ? 'KeyError' : 'TimeoutError', exception_msg: i === 20 ? `needle-${tag} in message` : 'boom' } : {}),
    });
  }
  // Two hours old: outside "last hour".
  events.push({ task_id: `${tag}-old`, queue_name: a, state: 'failed', exception_type: 'KeyError', time_start: now - 7200, time_end: now - 7199 });
  return { a, b, events };
}

const ids = (tag: string, ns: number[]) => ns.map((n) => `${tag}-${String(n).padStart(2, '0')}`);

test('filters combine and return exactly the matching tasks, newest first', async ({ page }) => {
  const tag = `e2e_f${Date.now()}`;
  const { a, b, events } = seed(tag);
  await post(page, events);

  const cases: [string, string[]][] = [
    [`queue=${a}&state=failed`, [...ids(tag, [20, 10, 0]), `${tag}-old`]],
    [`queue=${a}&state=failed&range=1h`, ids(tag, [20, 10, 0])],
    [`queue=${a},${b}&state=failed&exception_type=KeyError`, [...ids(tag, [25, 15, 5]), `${tag}-old`]],
    [`queue=${b}&host=${tag}-h2`, []],
    [`queue=${a}&host=${tag}-h2&function=crop`, ids(tag, [24, 12, 0])],
    [`queue=${a},${b}&q=NEEDLE-${tag}`, ids(tag, [20, 7])],
    [`state=failed,killed&q=needle-${tag}`, ids(tag, [20])],
    [`task_id_prefix=${tag}-2`, ids(tag, [29, 28, 27, 26, 25, 24, 23, 22, 21, 20])],
    [`task_id=${tag}-07`, ids(tag, [7])],
  ];
  for (const [query, want] of cases) {
    await openHydrated(page, `/tasks?${query}`);
    if (want.length === 0) {
      await expect(page.getByText('No task matches these filters')).toBeVisible();
      continue;
    }
    expect(await shown(page), query).toEqual(want);
    await expect(page.getByTestId('task-count')).toHaveText(want.length === 1 ? '1 task' : `${want.length} tasks`);
  }
});

test('the form writes the filters into the address, and the address fills the form', async ({ page }) => {
  const tag = `e2e_u${Date.now()}`;
  const { a, events } = seed(tag);
  await post(page, events);

  await openHydrated(page, '/tasks');
  const form = page.getByTestId('task-filters');
  await form.getByLabel('Queue').fill(a);
  await form.locator('.chip[data-state="failed"]').click();
  await form.getByLabel('Time').selectOption('1h');
  await form.getByRole('searchbox').fill('boom');
  await form.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(new RegExp(`/tasks\\?queue=${a}&state=failed&range=1h&q=boom$`));
  await expect.poll(() => shown(page)).toEqual(ids(tag, [10, 0]));

  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  expect(await shown(page)).toEqual(ids(tag, [10, 0]));
  await expect(form.getByLabel('Queue')).toHaveValue(a);
  await expect(form.getByRole('searchbox')).toHaveValue('boom');
  await expect(form.locator('.chip[data-state="failed"]')).toHaveAttribute('aria-pressed', 'true');
  await expect(form.getByLabel('Time')).toHaveValue('1h');

  await page.getByRole('link', { name: 'Clear' }).click();
  await expect(page).toHaveURL(/\/tasks$/);
  await expect(form.getByLabel('Queue')).toHaveValue('');
  await expect.poll(async () => (await shown(page)).length).toBeGreaterThan(2);
});

test('pages have no gaps or duplicates while new tasks arrive', async ({ page }) => {
  const tag = `e2e_p${Date.now()}`;
  const { a, events } = seed(tag);
  await post(page, events);
  const queueA = ids(tag, [28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0]).concat(`${tag}-old`);

  await openHydrated(page, `/tasks?queue=${a}&limit=4`);
  // Held still, so that the newest page does not change under the walk.
  await page.getByTestId('live-toggle').click();
  const seen: string[] = [];
  seen.push(...(await shown(page)));
  for (let round = 0; round < 10 && seen.length < queueA.length; round++) {
    // Newer tasks keep arriving; the cursor keeps its place.
    await post(page, [{ task_id: `${tag}-new-${round}`, queue_name: a, state: 'running', time_start: Date.now() / 1000 }]);
    await turn(page, 'page-older');
    seen.push(...(await shown(page)));
  }
  expect(seen).toEqual(queueA);
  await expect(page.getByTestId('page-older').first()).toHaveCount(0);

  // Back towards the newest: the page before the last one is the one seen before it.
  await turn(page, 'page-newer');
  expect(await shown(page)).toEqual(queueA.slice(8, 12));
  // The newest page now starts with the tasks that arrived meanwhile.
  await turn(page, 'page-first');
  expect((await shown(page))[0]).toBe(`${tag}-new-2`);
});

test('the newest page follows new tasks live, holds still while paused, and exports the filter', async ({ page }) => {
  const tag = `e2e_l${Date.now()}`;
  const now = Date.now() / 1000;
  const task = (n: number, state: string, extra: Record<string, unknown> = {}): Seed =>
    ({ task_id: `${tag}-${n}`, queue_name: tag, state, function: 'live', params: { n }, time_start: now + n, ...extra });
  await post(page, [task(0, 'success'), task(1, 'failed', { exception_type: 'KeyError' }), task(2, 'success')]);
  await openHydrated(page, `/tasks?queue=${tag}`);
  expect(await shown(page)).toEqual([`${tag}-2`, `${tag}-1`, `${tag}-0`]);
  const toggle = page.getByTestId('live-toggle');
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  const count = page.getByTestId('task-count');
  await expect(count).toHaveText('3 tasks');
  // The rows already there are kept as they are (an opened params cell stays open).
  const rows = page.getByTestId('task-table').locator('tbody tr');
  await rows.nth(1).locator('summary').click();
  await expect(rows.nth(1).locator('details')).toHaveAttribute('open', '');

  await post(page, [task(3, 'running')]);
  await expect(rows.first()).toHaveAttribute('data-task-id', `${tag}-3`);
  await expect(rows.first()).toHaveClass(/fresh/);
  await expect(count).toHaveText('4 tasks');
  await expect(page.locator(`tr[data-task-id="${tag}-1"] details`)).toHaveAttribute('open', '');
  // A task that finishes changes its row in place.
  await post(page, [task(3, 'success', { time_end: now + 4 })]);
  await expect(rows.first()).toHaveAttribute('data-state', 'success');

  // Paused: the list holds still and says what is waiting.
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await expect(toggle).toContainText('Paused');
  await post(page, [task(4, 'running')]);
  await expect(page.getByTestId('live-waiting')).toHaveText('1 new');
  expect(await shown(page)).toEqual([`${tag}-3`, `${tag}-2`, `${tag}-1`, `${tag}-0`]);
  await toggle.click();
  await expect(rows.first()).toHaveAttribute('data-task-id', `${tag}-4`);
  await expect(page.getByTestId('live-waiting')).toHaveCount(0);

  // The exports carry the filters, not the page.
  const csvLink = page.getByTestId('export-csv');
  await expect(csvLink).toHaveAttribute('href', `/api/v1/export/tasks?format=csv&queue=${tag}`);
  const csv = await (await page.request.get((await csvLink.getAttribute('href'))!)).text();
  const lines = csv.trimEnd().split('\r\n');
  expect(lines[0]).toMatch(/^task_id,queue,function,state,/);
  expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual([4, 3, 2, 1, 0].map((n) => `${tag}-${n}`));
  expect(lines[4]).toContain(',failed,');
  const ndjson = page.getByTestId('export-ndjson');
  await expect(ndjson).toHaveAttribute('href', `/api/v1/export/tasks?format=ndjson&queue=${tag}`);

  // Older pages are not live.
  await openHydrated(page, `/tasks?queue=${tag}&limit=2`);
  await turn(page, 'page-older');
  await expect(toggle).toHaveCount(0);
  await expect(page.getByTestId('export-csv')).toHaveAttribute('href', `/api/v1/export/tasks?format=csv&queue=${tag}`);
});

test('a text search outside the index says how far it read, and searches on', async ({ page }) => {
  // The end-to-end server reads at most 100 tasks per page where no index serves the text
  // (scripts/test.sh: --search-scan 100).
  const tag = `e2e_s${Date.now()}`;
  const now = Date.now() / 1000;
  const events: Seed[] = [];
  for (let i = 0; i < 150; i++) {
    const needle = i === 3 || i === 140;
    events.push({ task_id: `${tag}-${String(i).padStart(3, '0')}`, queue_name: tag, state: needle && i === 3 ? 'failed' : 'success',
      params: { n: i, note: needle ? `needle-${tag}` : 'hay' }, time_start: now - 900 + i, time_end: now - 899 + i });
  }
  await post(page, events);

  await openHydrated(page, `/tasks?queue=${tag}&q=needle-${tag}`);
  expect(await shown(page)).toEqual([`${tag}-140`]);
  const stopped = page.getByTestId('search-stopped');
  await expect(stopped).toContainText('read the newest 100 tasks of these filters, back to');
  await expect(page.getByTestId('task-count')).toHaveText('');
  await turn(page, 'page-older');
  expect(await shown(page)).toEqual([`${tag}-003`]);
  await expect(stopped).toHaveCount(0);
  await expect(page.getByTestId('page-older')).toHaveCount(0);

  // Failed tasks are searched through the index, all at once and counted.
  await openHydrated(page, `/tasks?queue=${tag}&state=failed&q=needle-${tag}`);
  expect(await shown(page)).toEqual([`${tag}-003`]);
  await expect(page.getByTestId('task-count')).toHaveText('1 task');
  await expect(stopped).toHaveCount(0);
  // Too short a text is refused with the reason.
  await openHydrated(page, `/tasks?q=ab`);
  await expect(page.getByTestId('tasks-error')).toContainText('at least 3 characters');
});

test('filters that cannot be used say why', async ({ page }) => {
  await openHydrated(page, '/tasks?state=done');
  await expect(page.getByTestId('tasks-error')).toContainText('unknown state "done"');
  await openHydrated(page, '/tasks?from=200&to=100');
  await expect(page.getByTestId('tasks-error')).toContainText('`from` must be before `to`');
});
