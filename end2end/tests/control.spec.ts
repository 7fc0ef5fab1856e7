import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from '@playwright/test';
import { test, expect, openHydrated, redisUrl, redis, redisNow, beat, postEvents } from './fixtures';

const password = process.env.TASKDECK_E2E_PASSWORD!;

/** A second taskdeck running its demo fleet (real Rust workers) on its own Redis database. */
async function fleet(): Promise<{ url: string; proc: ChildProcess }> {
  const bin = process.env.TASKDECK_E2E_BIN!;
  const db = redisUrl!.replace(/\/\d+$/, '/4');
  execFileSync('redis-cli', ['-u', db, 'FLUSHDB']);
  const dir = mkdtempSync(join(tmpdir(), 'taskdeck-e2e-fleet-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  // taskdeck refuses TASKDECK_* variables it does not know: the tests' own stay behind.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TASKDECK_E2E_')));
  const proc = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--store', `sqlite:${dir}/t.db`, '--redis', db,
    '--demo', '--site-root', process.env.TASKDECK_E2E_SITE!], { cwd: dir, stdio: 'ignore', env: { ...env, TASKDECK_ADMIN_PASSWORD: password } });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) return { url, proc }; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  proc.kill();
  throw new Error('the fleet instance did not start');
}

async function signIn(browser: Browser, url: string, name: string, pass: string): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${url}/`);
  return page;
}

test('an operator pauses and resumes a queue and sees every consumer apply it', async ({ browser }) => {
  test.setTimeout(60_000);
  const { url, proc } = await fleet();
  try {
    const page = await signIn(browser, url, 'admin', password);
    await openHydrated(page, `${url}/queues/orders`);
    await expect(page.getByTestId('queue-paused')).toHaveCount(0);
    await page.getByTestId('pause').click();
    const status = page.getByTestId('command-status');
    await expect(status).toHaveText('Paused — applied by 1 of 1 consumers');
    await expect(status).toHaveAttribute('data-state', 'applied');
    await expect(page.getByTestId('queue-paused')).toBeVisible();
    // The worker itself says so in its heartbeat, and nothing of the queue starts meanwhile.
    const fleetNow = await (await page.request.get(`${url}/api/v1/workers?queue=orders`)).json();
    expect(fleetNow.consumers[0].heartbeat.paused).toBe(true);
    await page.getByTestId('resume').click();
    await expect(status).toHaveText('Resumed — applied by 1 of 1 consumers');
    await expect(page.getByTestId('queue-paused')).toHaveCount(0);
    await expect(page.getByTestId('pause')).toBeVisible();

    // A reload shows where the last command stands, from the server.
    await openHydrated(page, `${url}/queues/orders`);
    await expect(page.getByTestId('command-status')).toHaveText('Resumed — applied by 1 of 1 consumers');

    // New limits: the worker applies them and its heartbeat carries them.
    await page.getByTestId('limit-concurrency').fill('2');
    await page.getByTestId('apply-limits').click();
    await expect(status).toHaveText('New limits applied (qps own, concurrency 2) — applied by 1 of 1 consumers');
    await expect.poll(async () => (await (await page.request.get(`${url}/api/v1/workers?queue=orders`)).json()).consumers[0].heartbeat.concurrency).toBe(2);
    await page.getByTestId('limit-qps').fill('0');
    await page.getByTestId('apply-limits').click();
    await expect(page.getByTestId('limits').getByRole('alert')).toContainText('`qps` is a number of tasks per second above 0');
    await page.context().close();
  } finally {
    proc.kill();
  }
});

test('a viewer sees no controls and the API refuses them', async ({ page, browser }) => {
  // The admin (this test's session) makes a viewer.
  const me = JSON.parse((await page.goto('/').then(() => page.locator('meta[name="taskdeck-me"]').getAttribute('content')))!);
  const created = await page.request.put('/api/v1/users/vic', {
    data: { role: 'viewer', password: 'viewer-password' },
    headers: { 'x-csrf-token': me.csrf },
  });
  expect(created.status()).toBe(200);

  const viewer = await signIn(browser, process.env.TASKDECK_E2E_URL!, 'vic', 'viewer-password');
  await expect(viewer.getByTestId('user-menu').locator('.role-badge')).toHaveText('viewer');
  await openHydrated(viewer, '/queues/anything');
  await expect(viewer.getByTestId('queue-control')).toBeAttached();
  await expect(viewer.getByTestId('pause')).toHaveCount(0);
  await expect(viewer.getByTestId('resume')).toHaveCount(0);
  await openHydrated(viewer, '/tasks');
  await expect(viewer.getByTestId('bulk')).toHaveCount(0);
  const viewerMe = JSON.parse((await viewer.locator('meta[name="taskdeck-me"]').getAttribute('content'))!);
  const refused = await viewer.request.post('/api/v1/queues/anything/pause', { headers: { 'x-csrf-token': viewerMe.csrf } });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.message).toContain('operator');
  // Without the CSRF token even an admin's request is refused.
  const noToken = await page.request.post('/api/v1/queues/anything/pause');
  expect(noToken.status()).toBe(403);
  await viewer.context().close();
});

test('a running task is killed and a waiting one revoked from its page, through funboost\'s kill hash', async ({ page }) => {
  const queue = `e2e_kill_${Date.now()}`;
  const now = Date.now() / 1000;
  const task = (id: string, state: string) => ({
    task_id: id, queue_name: queue, function: 'crunch', params: { n: 1 }, publish_time: now - 5,
    ...(state === 'running' ? { time_start: now - 2, run_status: 'running' } : {}), state,
  });
  expect((await postEvents(page, [task(`${queue}-run`, 'running'), task(`${queue}-wait`, 'pending')])).status()).toBe(202);
  page.on('dialog', (d) => d.accept());

  await openHydrated(page, `/tasks/${queue}-run`);
  await page.getByTestId('kill').click();
  await expect(page.getByTestId('command-status')).toHaveText('Kill sent: waiting for the worker');
  expect(redis('HEXISTS', `funboost_kill_task_hash:${queue}`, `${queue}-run`)).toBe('1');
  // The page remembers it after a reload.
  await openHydrated(page, `/tasks/${queue}-run`);
  await expect(page.getByTestId('command-status')).toHaveText('Kill sent: waiting for the worker');

  await openHydrated(page, `/tasks/${queue}-wait`);
  await expect(page.getByTestId('kill')).toHaveCount(0);
  await page.getByTestId('revoke').click();
  await expect(page.getByTestId('command-status')).toContainText('Revoke sent');
  expect(redis('HEXISTS', `funboost_kill_task_hash:${queue}`, `${queue}-wait`)).toBe('1');
  // The worker's record of it arriving turns the line to done.
  expect((await postEvents(page, [{ ...task(`${queue}-wait`, 'revoked'), success: false, run_status: 'finish', time_end: now + 1 }])).status()).toBe(202);
  await expect(page.getByTestId('command-status')).toHaveText('Revoked: it will not run', { timeout: 5000 });
});

test('a kill funboost cannot do is offered disabled, with the reason', async ({ page }) => {
  const queue = `e2e_nokill_${Date.now()}`;
  const now = redisNow();
  beat(queue, `u-${queue}`, now, {});
  redis('HSET', 'funboost_queue__consumer_parmas', queue, JSON.stringify({ queue_name: queue, broker_kind: 'REDIS_ACK_ABLE', concurrent_mode: 'threading', is_support_remote_kill_task: false }));
  expect((await postEvents(page, [{ task_id: `${queue}-1`, queue_name: queue, state: 'running', run_status: 'running', time_start: now - 1 }])).status()).toBe(202);
  await openHydrated(page, `/tasks/${queue}-1`);
  await expect(page.getByTestId('kill')).toBeDisabled();
  await expect(page.getByTestId('control-unavailable')).toContainText('is_support_remote_kill_task=True');
  // The API says the same.
  const me = JSON.parse((await page.locator('meta[name="taskdeck-me"]').getAttribute('content'))!);
  const refused = await page.request.post(`/api/v1/tasks/${queue}-1/kill`, { headers: { 'x-csrf-token': me.csrf } });
  expect(refused.status()).toBe(409);
  expect((await refused.json()).error.code).toBe('unsupported');
});

test('a failed task is published again as a new task from its page', async ({ page }) => {
  const queue = `e2e_retry_${Date.now()}`;
  const now = Date.now() / 1000;
  expect((await postEvents(page, [{
    task_id: `${queue}-1`, queue_name: queue, function: 'charge', params: { order: 77, card: 'x' },
    publish_time: now - 3, time_start: now - 2, time_end: now - 1, run_status: 'finish', success: false,
    state: 'failed', exception_type: 'ValueError', exception_msg: 'declined',
  }])).status()).toBe(202);
  page.on('dialog', (d) => d.accept());
  await openHydrated(page, `/tasks/${queue}-1`);
  await page.getByTestId('retry').click();
  await expect(page.getByTestId('command-status')).toHaveText('Published again as a new task');
  const newId = await page.getByTestId('retry-link').textContent();
  expect(newId).not.toBe(`${queue}-1`);
  // The new message waits in the queue's list with the same params and its own id.
  const message = JSON.parse(redis('LINDEX', queue, '0'));
  expect(message.order).toBe(77);
  expect(message.card).toBe('x');
  expect(message.extra.task_id).toBe(newId);
  await expect(page.getByTestId('task-state')).toHaveText('failed');
});

test('clearing a queue needs its name typed again, and removes only waiting messages', async ({ page }) => {
  const queue = `e2e_clear_${Date.now()}`;
  for (let i = 0; i < 4; i++) redis('RPUSH', queue, JSON.stringify({ i, extra: { task_id: `${queue}-${i}`, publish_time: Date.now() / 1000 } }));
  redis('SADD', 'funboost_all_queue_names', queue);
  redis('ZADD', `${queue}__unack_id_c1`, '1', JSON.stringify({ i: 99, extra: { task_id: `${queue}-99` } }));
  await openHydrated(page, `/queues/${queue}`);
  let answer = 'not-the-name';
  const alerts: string[] = [];
  page.on('dialog', (d) => (d.type() === 'prompt' ? d.accept(answer) : (alerts.push(d.message()), d.dismiss())));
  await page.getByTestId('clear').click();
  await expect.poll(() => alerts).toEqual(["That is not the queue's name: nothing was cleared."]);
  expect(redis('LLEN', queue)).toBe('4');
  answer = queue;
  await page.getByTestId('clear').click();
  await expect(page.getByTestId('command-status')).toHaveText('Cleared: 4 waiting messages removed');
  expect(redis('LLEN', queue)).toBe('0');
  // What a consumer holds in flight is left alone.
  expect(redis('ZCARD', `${queue}__unack_id_c1`)).toBe('1');
});

test('bulk retry of everything a filter matches, with its progress', async ({ page }) => {
  const queue = `e2e_bulk_${Date.now()}`;
  const now = Date.now() / 1000;
  const events = [];
  for (let i = 0; i < 14; i++) {
    const failed = i < 12;
    events.push({
      task_id: `${queue}-${i}`, queue_name: queue, function: 'charge', params: { i }, publish_time: now - 3,
      time_start: now - 2, time_end: now - 1, run_status: 'finish', success: !failed, state: failed ? 'failed' : 'success',
      ...(failed ? { exception_type: 'ValueError', exception_msg: 'declined' } : {}),
    });
  }
  expect((await postEvents(page, events)).status()).toBe(202);
  const questions: string[] = [];
  page.on('dialog', (d) => { questions.push(d.message()); d.accept(); });
  await openHydrated(page, `/tasks?queue=${queue}`);
  await expect(page.getByTestId('task-count')).toContainText('14');
  await expect(page.getByTestId('bulk-action')).toHaveValue('retry');
  await page.getByTestId('bulk-start').click();
  await expect(page.getByTestId('bulk-progress')).toHaveText('Retry failed: 14 read, 12 sent, 2 skipped, 0 failed — done');
  expect(questions[0]).toContain('Retry failed among the 14 tasks this filter matches');
  // Twelve new messages wait in the queue, with the failed tasks' params.
  expect(redis('LLEN', queue)).toBe('12');
  const params = redis('LRANGE', queue, '0', '-1').split('\n').map((m) => JSON.parse(m).i).sort((a, b) => a - b);
  expect(params).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

test('messages a stopped consumer still holds are put back on request', async ({ page }) => {
  const queue = `e2e_requeue_${Date.now()}`;
  const held = JSON.stringify({ i: 7, extra: { task_id: `${queue}-7`, publish_time: Date.now() / 1000 } });
  redis('SADD', 'funboost_all_queue_names', queue);
  // A consumer that died with a message in flight: its set is registered, its heartbeat gone.
  redis('ZADD', `${queue}__unack_id_dead-consumer`, '1', held);
  redis('SADD', `funboost_unack_registry:${queue}`, `${queue}__unack_id_dead-consumer`);
  await openHydrated(page, `/queues/${queue}`);
  await page.getByTestId('requeue').click();
  await expect(page.getByTestId('command-status')).toHaveText('Requeued: 1 messages held by stopped consumers put back');
  expect(redis('LRANGE', queue, '0', '-1')).toBe(held);
  expect(redis('EXISTS', `${queue}__unack_id_dead-consumer`)).toBe('0');
});

test('a waiting task moves to the front of its queue from its page', async ({ page }) => {
  const queue = `e2e_front_${Date.now()}`;
  const now = Date.now() / 1000;
  redis('SADD', 'funboost_all_queue_names', queue);
  for (const i of [0, 1, 2]) redis('RPUSH', queue, JSON.stringify({ i, extra: { task_id: `${queue}-${i}`, publish_time: now } }));
  expect((await postEvents(page, [{ task_id: `${queue}-2`, queue_name: queue, state: 'pending', publish_time: now }])).status()).toBe(202);
  await openHydrated(page, `/tasks/${queue}-2`);
  await page.getByTestId('front').click();
  await expect(page.getByTestId('command-status')).toHaveText('Moved to the front of the queue');
  expect(JSON.parse(redis('LINDEX', queue, '0')).i).toBe(2);
  expect(redis('LLEN', queue)).toBe('3');
});

test('the waiting messages of a queue: browsed page by page, one moved, one deleted, a selection revoked', async ({ page }) => {
  const queue = `e2e_waiting_${Date.now()}`;
  const now = Date.now() / 1000;
  redis('SADD', 'funboost_all_queue_names', queue);
  for (let i = 0; i < 23; i++) redis('RPUSH', queue, JSON.stringify({ i, extra: { task_id: `${queue}-${i}`, publish_time: now - 60 } }));
  const questions: string[] = [];
  page.on('dialog', (d) => { questions.push(d.message()); d.accept(); });
  await openHydrated(page, `/queues/${queue}`);
  const table = page.getByTestId('waiting-table');
  const rows = table.locator('tbody tr');
  await expect(rows).toHaveCount(20);
  await expect(page.getByTestId('waiting-count')).toContainText('1–20 / 23 · REDIS_ACK_ABLE');
  await expect(rows.first()).toContainText('{"i":0}');
  await expect(rows.first()).toContainText('no record yet');
  await page.getByTestId('waiting-next').click();
  await expect(rows).toHaveCount(3);
  await expect(page.getByTestId('waiting-count')).toContainText('21–23 / 23');
  await expect(rows.first()).toHaveAttribute('data-task-id', `${queue}-20`);
  await page.getByTestId('waiting-prev').click();
  await expect(rows).toHaveCount(20);

  // The fifth moves to the front; the second is deleted (and recorded as revoked).
  await rows.nth(4).getByTestId('waiting-front').click();
  await expect(page.getByTestId('command-status')).toHaveText('Moved to the front of the queue');
  await expect(rows.first()).toHaveAttribute('data-task-id', `${queue}-4`);
  expect(JSON.parse(redis('LINDEX', queue, '0')).i).toBe(4);
  await page.locator(`tr[data-task-id="${queue}-1"]`).getByTestId('waiting-delete').click();
  await expect(page.getByTestId('command-status')).toHaveText('Deleted from the queue: it will not run');
  expect(questions.pop()).toContain('Delete this message from the queue?');
  expect(redis('LLEN', queue)).toBe('22');
  await expect(page.locator(`tr[data-task-id="${queue}-1"]`)).toHaveCount(0);
  const deleted = await (await page.request.get(`/api/v1/tasks/${queue}-1`)).json();
  expect([deleted.state, deleted.exception_type]).toEqual(['revoked', 'Deleted']);

  // Three picked and revoked in one bulk command: each is marked for funboost's kill hash.
  for (const i of [6, 7, 8]) await page.locator(`tr[data-task-id="${queue}-${i}"] input[type=checkbox]`).check();
  await expect(page.getByTestId('waiting-selection')).toContainText('3 selected');
  await page.getByTestId('waiting-revoke-selected').click();
  await expect(page.getByTestId('waiting-bulk-progress')).toHaveText('Revoke waiting: 3 read, 3 sent, 0 skipped, 0 failed — done');
  expect(questions.pop()).toBe('Revoke waiting among the 3 selected tasks? Tasks in other states are skipped.');
  expect(redis('HKEYS', `funboost_kill_task_hash:${queue}`).split('\n').sort()).toEqual([6, 7, 8].map((i) => `${queue}-${i}`));
  await expect(page.getByTestId('waiting-selection')).toContainText('0 selected');

  // Everything on the page at once, deleted.
  await page.getByTestId('waiting-pick-all').check();
  await expect(page.getByTestId('waiting-selection')).toContainText('20 selected');
  await page.getByTestId('waiting-delete-selected').click();
  await expect(page.getByTestId('waiting-bulk-progress')).toContainText('20 sent, 0 skipped, 0 failed — done');
  await expect(rows).toHaveCount(2);
  expect(redis('LLEN', queue)).toBe('2');
});

test('bulk retry of the tasks picked on the tasks page', async ({ page }) => {
  const queue = `e2e_pick_${Date.now()}`;
  const now = Date.now() / 1000;
  const events = [0, 1, 2, 3].map((i) => ({
    task_id: `${queue}-${i}`, queue_name: queue, function: 'charge', params: { i }, publish_time: now - 3,
    time_start: now - 2, time_end: now - 1, run_status: 'finish', success: false, state: 'failed', exception_type: 'ValueError',
  }));
  expect((await postEvents(page, events)).status()).toBe(202);
  const questions: string[] = [];
  page.on('dialog', (d) => { questions.push(d.message()); d.accept(); });
  await openHydrated(page, `/tasks?queue=${queue}`);
  await expect(page.getByTestId('task-table').locator('tbody tr')).toHaveCount(4);
  await expect(page.getByTestId('bulk-selected')).toBeDisabled();
  for (const i of [1, 3]) await page.locator(`tr[data-task-id="${queue}-${i}"] input[type=checkbox]`).check();
  await expect(page.getByTestId('bulk-selected')).toHaveText('Apply to selected (2)');
  await page.getByTestId('bulk-selected').click();
  await expect(page.getByTestId('bulk-progress')).toHaveText('Retry failed: 2 read, 2 sent, 0 skipped, 0 failed — done');
  expect(questions[0]).toBe('Retry failed among the 2 selected tasks? Tasks in other states are skipped.');
  const params = redis('LRANGE', queue, '0', '-1').split('\n').map((m) => JSON.parse(m).i).sort();
  expect(params).toEqual([1, 3]);
  await expect(page.getByTestId('bulk-selected')).toHaveText('Apply to selected (0)');
  // The whole page at once.
  await page.getByTestId('pick-all').check();
  await expect(page.getByTestId('bulk-selected')).toHaveText('Apply to selected (4)');
});
