import { request } from '@playwright/test';

/** Signs in once as the admin (as a browser would, through the form) and keeps the session
 *  for every test; tests that need another visitor open their own context. */
export default async function globalSetup() {
  const baseURL = process.env.TASKDECK_E2E_URL!;
  const password = process.env.TASKDECK_E2E_PASSWORD;
  if (!password) throw new Error('TASKDECK_E2E_PASSWORD is not set: run the end-to-end tests with `make test`');
  const ctx = await request.newContext({ baseURL });
  const form = await (await ctx.get('/login')).text();
  const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(form)?.[1];
  if (!csrf) throw new Error('the sign-in page has no CSRF field');
  const signedIn = await ctx.post('/login', {
    form: { name: 'admin', password, csrf, next: '/' },
    maxRedirects: 0,
  });
  if (signedIn.status() !== 303) throw new Error(`signing in answered ${signedIn.status()}`);
  await ctx.storageState({ path: STATE });
  await ctx.dispose();
}

export const STATE = 'end2end/.auth/admin.json';
