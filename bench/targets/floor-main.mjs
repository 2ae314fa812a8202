/**
 * The bench's "floor": the barest pass-through Node can do with the same parts tollgate forwards
 * with — a node:http server and an undici Pool to the upstream — and nothing else (no auth, no
 * metering, no ledger, no logging). Every tollgate target is stated against it: what the floor
 * adds over `direct` is what any Node proxy pays; what tollgate adds beyond that is tollgate's own.
 *
 *   node bench/targets/floor-main.mjs --upstream http://127.0.0.1:PORT [--connections 128]
 *
 * Forwards method, path, headers (minus hop-by-hop ones and `host`) and the body; streams the
 * answer back chunk by chunk as it arrives (SSE included). Listens on 127.0.0.1 on a free port and
 * sends `{ url }` to its parent over IPC. Plain JavaScript so it runs with plain `node`, as the
 * built tollgate does (no loader thread).
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, connections: { type: 'string', default: '128' } },
});
if (!values.upstream) throw new Error('usage: floor-main.mjs --upstream URL [--connections N]');

const pool = new Pool(values.upstream, { connections: Number(values.connections), keepAliveTimeout: 60_000 });
const HOP = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'content-length',
]);

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
  pool
    .stream(
      { method: req.method, path: req.url, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
      ({ statusCode, headers: h }) => {
        const out = {};
        for (const [k, v] of Object.entries(h)) if (!HOP.has(k) && v !== undefined) out[k] = v;
        res.writeHead(statusCode, out);
        return res;
      },
    )
    .catch((err) => {
      if (!res.headersSent)
        res.writeHead(502, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: { message: String(err.message), type: 'upstream_error', param: null, code: null },
          }),
        );
      else res.destroy(err);
    });
});
server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (process.send) process.send({ url });
  else console.log(url);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref();
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
