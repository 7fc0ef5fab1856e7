// Bytes transferred and time until a page is hydrated, in Chromium: a first visit (empty
// cache, new browser context) and a repeat visit (the same context, navigating to the page
// again), each the median of ROUNDS runs. Prints one JSON line.
// Usage: TASKDECK_BENCH_PASSWORD=… node end2end/bench/assets.mjs URL [ROUNDS] [MBIT]
import { chromium } from 'playwright-core';

const [url, roundsArg, mbitArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 5);
// Optionally a slower network than loopback: MBIT down (and up), 40 ms round trip.
const mbit = Number(mbitArg ?? 0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

/** A browser context signed in as the admin (through the form, as a person would). */
async function signedIn() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(new URL('/login', url).href);
  await page.fill('input[name=name]', 'admin');
  await page.fill('input[name=password]', process.env.TASKDECK_BENCH_PASSWORD ?? '');
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
  await page.close();
  return context;
}

/** Opens the page in `page`: bytes on the wire (headers and bodies, as Chromium counts them),
 *  requests that went to the network, and milliseconds until the app marked itself hydrated. */
async function visit(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  if (mbit > 0) {
    const bytesPerSecond = (mbit * 1e6) / 8;
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 40, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond,
    });
  }
  const fetched = [];
  let bytes = 0;
  let requests = 0;
  const cached = new Set();
  const seen = new Map();
  cdp.on('Network.requestServedFromCache', (e) => cached.add(e.requestId));
  cdp.on('Network.responseReceived', (e) => seen.set(e.requestId, `${e.response.status} ${new URL(e.response.url).pathname}`));
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
    // Answered from the browser's cache: no request went out.
    if (cached.has(e.requestId) || e.encodedDataLength === 0) return;
    requests += 1;
    fetched.push(seen.get(e.requestId));
  });
  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 60_000 });
  const ms = Date.now() - started;
  await cdp.detach();
  if (process.env.TASKDECK_BENCH_VERBOSE) console.error(fetched.join('\n'));
  return { bytes, requests, ms };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const first = [];
const repeat = [];
for (let i = 0; i < rounds; i++) {
  const fresh = await signedIn();
  // Signing in fetched the stylesheet: start from an empty cache.
  const page = await fresh.newPage();
  const cdp = await fresh.newCDPSession(page);
  await cdp.send('Network.clearBrowserCache');
  await cdp.detach();
  first.push(await visit(page));
  repeat.push(await visit(page));
  await fresh.close();
}
const summary = (runs) => ({
  kib: Math.round(median(runs.map((r) => r.bytes)) / 1024),
  requests: median(runs.map((r) => r.requests)),
  ms: median(runs.map((r) => r.ms)),
});
console.log(JSON.stringify({ url, rounds, mbit: mbit || 'loopback', first: summary(first), repeat: summary(repeat) }));
await browser.close();
