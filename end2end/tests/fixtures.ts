import { execFileSync } from 'node:child_process';
import { test as base, expect, Page } from '@playwright/test';

/** Fails any test whose page logs a console error, throws, breaks its content security policy
 *  (every page runs under its content security policy). */
export const test = base.extend<{ page: Page }>({
  page: async ({ page }, use) => {
    const problems: string[] = [];
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
    });

    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      // A page served with an error status (404 test) is reported as a failed load of the
      // document itself; the tests assert that status. Failed sub-resources still count.
      const documentStatus = msg.text().startsWith('Failed to load resource') && msg.location().url === page.url();
      if (!documentStatus) problems.push(`console.error: ${msg.text()} (${msg.location().url})`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await use(page);
    expect(problems, 'the page logged errors').toEqual([]);
  },
});

export { expect };

/** Opens a page and waits until the wasm bundle has hydrated it. */
export async function openHydrated(page: Page, path: string) {
  const response = await page.goto(path);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  return response;
}

/** Marks the current document; a full reload loses the mark, client-side navigation keeps it. */
export async function markDocument(page: Page) {
  await page.evaluate(() => ((window as any).__taskdeckMark = 'kept'));
}

export async function documentMarked(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as any).__taskdeckMark === 'kept');
}

/** The API token (ingest, read, control) scripts/test.sh created for the test taskdeck. */
export const token = process.env.TASKDECK_E2E_TOKEN;

/** Posts task events as a worker does: with an API token (the `ingest` scope). */
export async function postEvents(page: Page, events: unknown[]) {
  return page.request.post('/api/v1/events', {
    data: events,
    headers: { Authorization: `Bearer ${token}` },
  });
}

/** The Redis database the test taskdeck reads (set by scripts/test.sh); unset outside `make test`. */
export const redisUrl = process.env.TASKDECK_E2E_REDIS;

export function redis(...args: string[]): string {
  return execFileSync('redis-cli', ['-u', redisUrl!, ...args], { encoding: 'utf8' }).trim();
}

export function redisNow(): number {
  const [s, us] = redis('TIME').split('\n').map(Number);
  return s + us / 1e6;
}

/** Writes a heartbeat the way a consumer does (funboost's keys and record). */
export function beat(queue: string, uuid: string, at: number, extra: Record<string, unknown>) {
  redis('SADD', 'funboost_all_queue_names', queue);
  redis('SADD', `funboost_hearbeat_queue__dict:${queue}`, JSON.stringify({
    queue_name: queue, computer_name: 'e2e-host', computer_ip: '192.0.2.50', process_id: 4100,
    consumer_uuid: uuid, consuming_function: 'resize', start_timestamp: at - 60,
    hearbeat_timestamp: at, total_consume_count_from_start: 42, last_x_s_avarage_function_spend_time: null,
    ...extra,
  }));
}

/** `ok` successes and `bad` failures of `queue`, finished just now, committed when this returns. */
export async function finish(page: Page, queue: string, tag: string, ok: number, bad: number) {
  const now = Date.now() / 1000;
  const events = [];
  for (let i = 0; i < ok + bad; i++) {
    const failed = i >= ok;
    events.push({
      task_id: `${queue}-${tag}-${i}`, queue_name: queue, function: 'charge', params: { i },
      publish_time: now - 1, time_start: now - 0.5, time_end: now, run_status: 'finish',
      success: !failed, state: failed ? 'failed' : 'success',
      ...(failed ? { exception_type: 'ValueError', exception_msg: 'card declined' } : {}),
    });
  }
  const response = await postEvents(page, events);
  expect(response.status()).toBe(202);
}
