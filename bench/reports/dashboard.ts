/**
 * The dashboard as a person leaves it open: signed in through its form (a company key or an
 * operator key), refreshed once a second the way its client script does (`GET /dashboard` with
 * `x-tollgate-fragment: 1`), each refresh timed.
 */
import { Agent, request } from 'undici';

/** Signs in with `credential`; resolves with the session cookie (`tg_session=…`). */
export async function signIn(origin: string, credential: string): Promise<string> {
  const page = await request(`${origin}/dashboard/sign-in`);
  const set = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
  const signin = set.map((c) => c.split(';')[0]!).find((c) => c.startsWith('tg_signin='))!;
  await page.body.text();
  const csrf = signin.slice('tg_signin='.length);
  const res = await request(`${origin}/dashboard/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: signin },
    body: new URLSearchParams({ csrf, credential }).toString(),
  });
  await res.body.text();
  const session = ([] as string[])
    .concat(res.headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('tg_session='));
  if (res.statusCode !== 303 || !session) throw new Error(`dashboard sign-in answered ${res.statusCode}`);
  return session;
}

/** Refreshes each `view` (a `/dashboard…` path and its session cookie) every `everyMs` until stopped; returns each refresh's ms. */
export function refreshing(
  origin: string,
  views: { path: string; cookie: string }[],
  everyMs = 1_000,
): { stop(): Promise<{ ms: number[]; failed: number }> } {
  const agent = new Agent({ connections: 4 });
  const ms: number[] = [];
  let failed = 0;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const once = (v: { path: string; cookie: string }) => {
    const started = performance.now();
    const p = request(`${origin}${v.path}`, {
      dispatcher: agent,
      headers: { cookie: v.cookie, 'x-tollgate-fragment': '1' },
    })
      .then(async (res) => {
        await res.body.text();
        if (res.statusCode === 200) ms.push(performance.now() - started);
        else failed++;
      })
      .catch(() => void failed++)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const timer = setInterval(() => {
    if (!stopped) for (const v of views) once(v);
  }, everyMs);
  for (const v of views) once(v);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(inFlight);
      await agent.close();
      return { ms, failed };
    },
  };
}
