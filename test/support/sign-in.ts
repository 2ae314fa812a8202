import { expect } from 'vitest';

/**
 * Signs in to the dashboard at `baseUrl` with `credential` through its form (the sign-in page's
 * CSRF cookie and token, then the POST); resolves to the `tg_session` cookie's value.
 */
export async function sessionCookie(baseUrl: string, credential: string): Promise<string> {
  const page = await fetch(`${baseUrl}/dashboard/sign-in`);
  const signin = /tg_signin=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const res = await fetch(`${baseUrl}/dashboard/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `tg_signin=${signin}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, credential }),
  });
  expect(res.status).toBe(303);
  return /tg_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!;
}
