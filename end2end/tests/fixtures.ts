import { test as base, expect, Page } from '@playwright/test';

/** Fails any test whose page logs a console error or throws. */
export const test = base.extend<{ page: Page }>({
  page: async ({ page }, use) => {
    const problems: string[] = [];
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
