// The browser side of `taskdeck bench live`: opens taskdeck's overview in Chromium and prints
// `ready`, then `<count> <epoch ms>` each time the given queue's "done in the last hour" cell
// changes, timed in the page when the DOM changes. Closes the browser when stdin closes.
// Usage: node end2end/bench/live-dom.mjs URL QUEUE
import { chromium } from 'playwright-core';

const [url, queue] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
await page.exposeFunction('taskdeckBenchReport', (count, at) => console.log(`${count} ${at}`));
// Signs in as the admin with the password `taskdeck bench live` gave the server.
await page.goto(new URL('/login', url).href);
await page.fill('input[name=name]', 'admin');
await page.fill('input[name=password]', process.env.TASKDECK_BENCH_PASSWORD ?? '');
await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
await page.goto(url);
await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });
await page.waitForSelector(`tr[data-queue="${queue}"] [data-col="success-hour"]`, { timeout: 30_000 });
await page.evaluate((queue) => {
  let last = -1;
  const read = () => {
    const cell = document.querySelector(`tr[data-queue="${CSS.escape(queue)}"] [data-col="success-hour"]`);
    if (!cell) return;
    const count = Number(cell.textContent.replace(/\D/g, ''));
    if (count === last) return;
    last = count;
    window.taskdeckBenchReport(count, performance.timeOrigin + performance.now());
  };
  new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true });
  read();
}, queue);
console.log('ready');

process.stdin.resume();
process.stdin.on('end', async () => {
  await browser.close();
  process.exit(0);
});
