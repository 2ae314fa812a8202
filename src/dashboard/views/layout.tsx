/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { TIME_FORMAT } from '../format.js';
import { Time, Zone } from './parts.js';

/** Who the page is for, shown in the header: e.g. `alice · acme (member)`. */
export interface Identity {
  label: string;
  role: 'member' | 'admin' | 'operator';
  csrf: string;
}

/**
 * The page shell: the stylesheet, Chart.js and the client script (all served by tollgate from
 * /dashboard/assets, nothing from a CDN), how instants are written (`TIME_FORMAT`, for the client
 * script), a skip link, the header with sign-out, and `main#content`, whose data regions the
 * auto-refresh replaces.
 */
export function Page(props: { title: string; who?: Identity; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · tollgate</title>
        <link rel="icon" href="data:," />
        <meta name="tollgate-time-format" content={JSON.stringify(TIME_FORMAT)} />
        <link rel="stylesheet" href="/dashboard/assets/dashboard.css" />
        <link rel="stylesheet" href="/dashboard/assets/tables.css" />
        {props.who ? <script src="/dashboard/assets/chart.umd.min.js" defer /> : null}
        {props.who ? <script src="/dashboard/assets/dashboard.js" defer /> : null}
      </head>
      <body>
        <a class="skip" href="#content">
          Skip to content
        </a>
        <header class="top">
          <p class="brand">
            <a href="/dashboard">tollgate</a>
          </p>
          {props.who ? (
            <div class="who">
              <span data-identity>{props.who.label}</span>
              <form method="post" action="/dashboard/sign-out">
                <input type="hidden" name="csrf" value={props.who.csrf} />
                <button type="submit">Sign out</button>
              </form>
            </div>
          ) : null}
        </header>
        {props.children}
      </body>
    </html>
  );
}

/**
 * `main#content`: what the auto-refresh fetches again. The client script swaps in only its data
 * regions (`data-region`), never the forms. `updated` is the instant it was rendered (ISO 8601
 * UTC), shown in `timeZone` until the client script shows it, like every time, in the viewer's.
 */
export function Content(props: { title: string; updated: string; timeZone: string; children: Child }) {
  return (
    <main id="content" tabindex={-1}>
      <div class="title-row">
        <h1>{props.title}</h1>
        <p class="updated" data-region="updated">
          Updated{' '}
          <span data-updated>
            <Time iso={props.updated} timeZone={props.timeZone} />
          </span>{' '}
          · times in <Zone timeZone={props.timeZone} /> · refreshes every 30 s
        </p>
      </div>
      {props.children}
    </main>
  );
}

/** The sign-in form: a company key, a user token or an operator key; `csrf` pairs with the `tg_signin` cookie. */
export function SignIn(props: { csrf: string; error?: string }) {
  return (
    <Page title="Sign in">
      <main id="content" class="sign-in">
        <h1>Sign in to the tollgate dashboard</h1>
        <form method="post" action="/dashboard/sign-in">
          <input type="hidden" name="csrf" value={props.csrf} />
          <label for="credential">API key, user token or operator key</label>
          <input
            id="credential"
            name="credential"
            type="password"
            autocomplete="off"
            required
            aria-describedby="credential-help"
          />
          <p id="credential-help" class="sub">
            A company key (<code>sk-tg-…</code>), a user token (JWT) or an operator key. It is exchanged for a session
            cookie and not stored.
          </p>
          {props.error ? (
            <p class="error" role="alert">
              {props.error}
            </p>
          ) : null}
          <button type="submit">Sign in</button>
        </form>
      </main>
    </Page>
  );
}

/** The heading of an error page by its status: the reader's filter (400, 403) or the ledger (503). */
const ERROR_HEADINGS: Record<number, string> = {
  403: 'Not allowed',
  503: 'The ledger could not answer in time: try again, or choose a shorter period',
};

/** An error page (403 for a filter beyond what the caller may see, 400 for a bad one, 503 when the ledger could not answer). */
export function ErrorPage(props: { status: number; message: string; who?: Identity }) {
  return (
    <Page title={props.status === 403 ? 'Not allowed' : 'Error'} who={props.who}>
      <main id="content">
        <h1>{ERROR_HEADINGS[props.status] ?? 'Something is wrong with this request'}</h1>
        <p class="error" role="alert" data-error-status={String(props.status)}>
          {props.message}
        </p>
        <p>
          <a href="/dashboard">Back to your dashboard</a>
        </p>
      </main>
    </Page>
  );
}
