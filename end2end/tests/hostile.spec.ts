import { test, expect, openHydrated, postEvents } from './fixtures';

/** What a worker, an event or an address bar can send: none of it may ever run or become markup. */
const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '</title><script>alert(document.domain)</script>',
  '"><svg onload=alert(2)>',
  "' onmouseover='alert(3)' x='",
  '{{constructor.constructor("alert(5)")()}}',
];

/** Elements and attributes a hostile name would have to create to run. */
const INJECTED = 'img[src="x"], [onerror], [onload], [onmouseover], iframe, object, embed';

test('hostile names are shown as text on every page, before and after hydration', async ({ page }) => {
  // None of these pages asks anything: any dialog is injected script running.
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(`${d.type()}: ${d.message()}`); await d.dismiss(); });
  const now = Date.now() / 1000;
  const events = HOSTILE.map((h, i) => ({
    task_id: `${h}-${i}`, queue_name: `${h}-q`, state: 'failed', run_times: 1, function: h,
    host_name: h, exception_type: h, exception_msg: h, traceback: h, params: { [h]: h },
    result: h, publish_time: now - 2, time_start: now - 1, time_end: now, odd: h,
  }));
  expect((await postEvents(page, events)).status()).toBe(202);
  const enc = encodeURIComponent;
  const pages = ['/', '/queues', '/tasks', '/failures', '/workers', `/tasks?q=${enc(HOSTILE[0])}`];
  HOSTILE.forEach((h, i) => {
    pages.push(`/queues/${enc(`${h}-q`)}`, `/tasks/${enc(`${h}-${i}`)}`, `/queues/${enc(h)}`);
  });
  for (const path of pages) {
    const response = await openHydrated(page, path);
    expect([200, 404], path).toContain(response?.status());
    await expect(page.locator(INJECTED), path).toHaveCount(0);
    // What the server rendered holds none of it either.
    const html = await response!.text();
    for (const h of HOSTILE.slice(0, 3)) expect(html, path).not.toContain(h);
  }
  // The names are there, as text.
  await openHydrated(page, `/tasks/${enc(`${HOSTILE[0]}-0`)}`);
  await expect(page.getByTestId('task-id')).toHaveText(`${HOSTILE[0]}-0`);
  await expect(page).toHaveTitle(`${HOSTILE[0]}-0 · Tasks · taskdeck`);
  await openHydrated(page, `/queues/${enc(`${HOSTILE[1]}-q`)}`);
  await expect(page).toHaveTitle(`${HOSTILE[1]}-q · taskdeck`);
  await expect(page.locator(INJECTED)).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test('a script that is not the page\'s own does not run', async ({ browser }) => {
  // Its own page: the shared fixture fails any test whose page breaks the policy, and this one
  // breaks it on purpose. (Every other test runs under the policy too: charts, live updates,
  // theme and language all work without a violation.)
  const context = await browser.newContext({ storageState: 'end2end/.auth/admin.json' });
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (m) => { if (m.text().includes('Content Security Policy')) violations.push(m.text()); });
  const response = await page.goto('/queues/csp_q?range=minute');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const policy = response!.headers()['content-security-policy'];
  expect(policy).toContain("script-src 'self' 'nonce-");
  const ran = await page.evaluate(() => {
    (window as any).__injected = false;
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.appendChild(s);
    return (window as any).__injected;
  });
  expect(ran).toBe(false);
  await expect.poll(() => violations.length).toBeGreaterThan(0);
  await context.close();
});
