import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { AppEnv } from '../http/env.js';

/**
 * The dashboard's static files, served by tollgate itself under `/dashboard/assets/` (no CDN: it
 * works offline and under `script-src 'self'`): the stylesheets (the page's, the tables') and the
 * client script from the project's `public/dashboard/`, and Chart.js's UMD build from the installed
 * `chart.js` package. Read once, on first request.
 */
const here = dirname(fileURLToPath(import.meta.url));
/** `public/dashboard/` at the repository root: two levels up from src/dashboard/ and from dist/dashboard/. */
const PUBLIC = join(here, '..', '..', 'public', 'dashboard');

const FILES: Record<string, { path: () => string; type: string }> = {
  'dashboard.css': { path: () => join(PUBLIC, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'tables.css': { path: () => join(PUBLIC, 'tables.css'), type: 'text/css; charset=utf-8' },
  'dashboard.js': { path: () => join(PUBLIC, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'chart.umd.min.js': {
    path: () => join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

/** Registers `GET /dashboard/assets/<name>` for the files above; other names 404. */
export function assetRoutes(app: Hono<AppEnv>): void {
  const cache = new Map<string, Buffer>();
  app.get('/dashboard/assets/:name', (c) => {
    const name = c.req.param('name');
    const file = Object.hasOwn(FILES, name) ? FILES[name]! : undefined;
    if (!file) return c.text('Not found', 404);
    let body = cache.get(name);
    if (!body) cache.set(name, (body = readFileSync(file.path())));
    return c.body(new Uint8Array(body), 200, { 'content-type': file.type, 'cache-control': 'no-cache' });
  });
}
