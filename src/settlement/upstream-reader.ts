import type { Upstream } from '../proxy/upstream.js';
import { BodyTooLarge, type UpstreamReader } from './kinds.js';

/** Default bound on a body the settler reads (64 MiB), as for a metered response. */
const MAX_BYTES = 64 * 1024 * 1024;

/**
 * An `UpstreamReader` on tollgate's own upstream pool: the same base URL, connection pool, timeouts
 * and upstream key (`Authorization: Bearer <upstream key>`) as the requests it relays. Each `get` is
 * one upstream call.
 */
export function upstreamReader(upstream: Pick<Upstream, 'request' | 'apiKey'>): UpstreamReader {
  return {
    async get(path, maxBytes = MAX_BYTES) {
      const res = await upstream.request({
        method: 'GET',
        pathAndQuery: path,
        headers: { authorization: `Bearer ${upstream.apiKey}`, accept: 'application/json' },
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          res.body.destroy();
          throw new BodyTooLarge(path, maxBytes);
        }
        chunks.push(chunk);
      }
      return { status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') };
    },
  };
}
