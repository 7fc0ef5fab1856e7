import { execFileSync } from 'node:child_process';
import { test, expect, openHydrated, redisUrl, redis, postEvents } from './fixtures';

/** Registers `queue` as funboost's consumers do, with the signature of `add(x, y=0)`. */
function register(queue: string) {
  redis('SADD', 'funboost_all_queue_names', queue);
  redis('HSET', 'funboost_queue__consumer_parmas', queue, JSON.stringify({
    queue_name: queue, broker_kind: 'REDIS_ACK_ABLE',
    auto_generate_info: { final_func_input_params_info: {
      func_name: 'add', all_arg_name_list: ['x', 'y'], must_arg_name_list: ['x'], optional_arg_name_list: ['y'],
    } },
  }));
}

/** funboost's RPC result database on the test Redis (its REDIS_DB_FILTER_AND_RPC_RESULT, 8). */
function rpcRedis(...args: string[]): string {
  return execFileSync('redis-cli', ['-u', redisUrl!.replace(/\/\d+$/, '/8'), ...args], { encoding: 'utf8' }).trim();
}

test('a task is published from a form built from the function\'s signature, checked as it is typed', async ({ page }) => {
  const queue = `e2e_pub_${Date.now()}`;
  register(queue);
  await openHydrated(page, `/queues/${queue}`);
  await page.getByTestId('publish').locator('summary').click();
  const form = page.getByTestId('publish-form');
  const x = form.locator('[data-arg="x"] input');
  const y = form.locator('[data-arg="y"] input');
  await expect(form.locator('[data-arg="x"]')).toContainText('x *');
  await y.fill('1');
  await page.getByTestId('publish-submit').click();
  await expect(page.getByTestId('publish-error')).toHaveText('x: required');
  expect(redis('LLEN', queue)).toBe('0');
  await x.fill('hello');
  await expect(form.locator('[data-arg="x"] .pub-problem')).toContainText('not a JSON value');
  await expect(x).toHaveAttribute('aria-invalid', 'true');
  await x.fill('40');
  await expect(x).toHaveAttribute('aria-invalid', 'false');
  await page.getByTestId('publish-submit').click();
  const link = page.getByTestId('published-task');
  await expect(link).toBeVisible();
  const id = await link.textContent();
  const message = JSON.parse(redis('LINDEX', queue, '0'));
  expect([message.x, message.y, message.extra.task_id]).toEqual([40, 1, id]);
});

test('waiting for the result shows it as soon as the worker answers', async ({ page }) => {
  const queue = `e2e_rpc_${Date.now()}`;
  register(queue);
  await openHydrated(page, `/queues/${queue}`);
  await page.getByTestId('publish').locator('summary').click();
  const form = page.getByTestId('publish-form');
  await form.locator('[data-arg="x"] input').fill('7');
  await form.locator('[data-arg="y"] input').fill('8');
  await page.getByTestId('publish-rpc').check();
  await page.getByTestId('publish-submit').click();
  await expect(page.getByTestId('publish-submit')).toHaveText('Waiting for the result…');
  // The worker's part: take the message, answer as funboost does in its RPC database.
  await expect.poll(() => redis('LLEN', queue)).toBe('1');
  const message = JSON.parse(redis('LINDEX', queue, '0'));
  expect(message.extra.is_using_rpc_mode).toBe(true);
  rpcRedis('LPUSH', message.extra.task_id, JSON.stringify({
    task_id: message.extra.task_id, queue_name: queue, success: true, result: 15,
    exception_type: null, exception_msg: null, rpc_result_expire_seconds: 600,
  }));
  await expect(page.getByTestId('publish-result')).toContainText('success');
  await expect(page.getByTestId('publish-result')).toContainText('15');
  await expect(page.getByTestId('published-task')).toHaveText(message.extra.task_id);
  // Read as funboost's AsyncResult reads it: put back for other readers.
  expect(rpcRedis('LLEN', message.extra.task_id)).toBe('1');
});

test('a task is run again with changes from its page, and the two link to each other', async ({ page }) => {
  const queue = `e2e_rerun_${Date.now()}`;
  register(queue);
  const now = Date.now() / 1000;
  expect((await postEvents(page, [{
    task_id: `${queue}-1`, queue_name: queue, function: 'add', params: { x: 1, y: 2 },
    publish_time: now - 3, time_start: now - 2, time_end: now - 1, run_status: 'finish', success: false,
    state: 'failed', exception_type: 'ValueError', exception_msg: 'too small',
  }])).status()).toBe(202);
  await openHydrated(page, `/tasks/${queue}-1`);
  await page.getByTestId('rerun').click();
  const form = page.getByTestId('publish-form');
  await expect(form.locator('[data-arg="x"] input')).toHaveValue('1');
  await expect(form.locator('[data-arg="y"] input')).toHaveValue('2');
  await form.locator('[data-arg="x"] input').fill('5');
  await page.getByTestId('publish-submit').click();
  const newId = await page.getByTestId('published-task').textContent();
  const message = JSON.parse(redis('LINDEX', queue, '0'));
  expect([message.x, message.y, message.extra.taskdeck_origin]).toEqual([5, 2, `${queue}-1`]);
  // The old task names the new one …
  await openHydrated(page, `/tasks/${queue}-1`);
  await expect(page.getByTestId('rerun-link')).toHaveText(newId!);
  // … and the new one, once a worker records it with its message, names the old.
  expect((await postEvents(page, [{
    task_id: newId, queue_name: queue, function: 'add', params: { x: 5, y: 2 }, msg_dict: message,
    publish_time: now, time_start: now + 1, run_status: 'running', state: 'running',
  }])).status()).toBe(202);
  await openHydrated(page, `/tasks/${newId}`);
  await expect(page.getByTestId('task-origin')).toHaveText(`${queue}-1`);
});

test('dead letters: listed on the queue page, one put back, the rest deleted', async ({ page }) => {
  const queue = `e2e_dlx_${Date.now()}`;
  register(queue);
  const now = Date.now() / 1000;
  for (let i = 0; i < 3; i++) {
    redis('RPUSH', `${queue}_dlx`, JSON.stringify({ x: i, extra: { task_id: `${queue}-d${i}`, publish_time: now - 60 } }));
  }
  page.on('dialog', (d) => d.accept());
  await openHydrated(page, `/queues/${queue}`);
  const dead = page.getByTestId('dead-letters');
  await expect(dead.locator('h2')).toContainText('3');
  await expect(dead.locator('tbody tr')).toHaveCount(3);
  await dead.locator(`tr[data-task-id="${queue}-d1"] input[type=checkbox]`).check();
  await page.getByTestId('dead-redrive-picked').click();
  await expect(dead.getByTestId('command-status')).toHaveText('Put back on the queue: 1 dead letters');
  expect(JSON.parse(redis('LINDEX', queue, '0')).extra.task_id).toBe(`${queue}-d1`);
  await expect(dead.locator('tbody tr')).toHaveCount(2);
  await page.getByTestId('dead-discard-all').click();
  await expect(dead.getByTestId('command-status')).toHaveText('Dead letters deleted: 2');
  expect(redis('LLEN', `${queue}_dlx`)).toBe('0');
});
