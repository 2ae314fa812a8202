import type { ServerResponse } from 'node:http';
import { json, type Seen } from './scripted-upstream.js';

/** A family as the fake upstream serves it: its collection path, id prefix and `object` name. */
export interface FakeFamily {
  base: string;
  prefix: string;
  object: string;
  list: boolean;
}

export const FAKE_FAMILIES: FakeFamily[] = [
  { base: '/v1/files', prefix: 'file-', object: 'file', list: true },
  { base: '/v1/uploads', prefix: 'upload_', object: 'upload', list: false },
  { base: '/v1/batches', prefix: 'batch_', object: 'batch', list: true },
  { base: '/v1/fine_tuning/jobs', prefix: 'ftjob-', object: 'fine_tuning.job', list: true },
  { base: '/v1/vector_stores', prefix: 'vs_', object: 'vector_store', list: true },
  { base: '/v1/conversations', prefix: 'conv_', object: 'conversation', list: false },
  { base: '/v1/containers', prefix: 'cntr_', object: 'container', list: true },
  { base: '/v1/videos', prefix: 'video_', object: 'video', list: true },
  { base: '/v1/evals', prefix: 'eval_', object: 'eval', list: true },
];

/**
 * An in-memory OpenAI object API, as one upstream organisation sees it: every object created by any
 * caller is visible to every request (the shared key), which is what tollgate must hide.
 * Batches name an output file; fine-tuning jobs a fine-tuned model listed by `GET /v1/models`.
 */
export class ObjectUpstream {
  readonly objects = new Map<string, Record<string, unknown>>();
  private n = 0;

  handle = (req: Seen, res: ServerResponse): void => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if ((path === '/v1/responses' || path === '/v1/chat/completions') && req.method === 'POST') {
      const chat = path === '/v1/chat/completions';
      const id = chat ? `chatcmpl-${++this.n}` : `resp_${++this.n}`;
      const stream = (JSON.parse(req.body.toString()) as { stream?: boolean }).stream === true;
      if (chat)
        this.objects.set(id, {
          id,
          object: 'chat.completion',
          model: 'gpt-4o-mini',
          choices: [],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        });
      else
        this.objects.set(id, {
          id,
          object: 'response',
          status: 'completed',
          model: 'gpt-4o-mini',
          output: [],
          usage: { input_tokens: 3, output_tokens: 1, total_tokens: 4 },
        });
      if (!stream) return json(res, 200, this.objects.get(id));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (chat) {
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'hi' } }] })}\n\n`,
        );
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } })}\n\ndata: [DONE]\n\n`,
        );
      } else {
        res.write(
          `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: { id, object: 'response', status: 'in_progress', model: 'gpt-4o-mini' } })}\n\n`,
        );
        res.write(
          `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: this.objects.get(id) })}\n\n`,
        );
      }
      return void res.end();
    }
    if (path === '/v1/chat/completions' && req.method === 'GET') {
      const data = [...this.objects.values()].filter((o) => o.object === 'chat.completion');
      return json(res, 200, {
        object: 'list',
        data,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: false,
      });
    }
    for (const base of ['/v1/responses/', '/v1/chat/completions/']) {
      if (path.startsWith(base)) {
        const o = this.objects.get(path.slice(base.length).split('/')[0]!);
        return o
          ? json(res, 200, o)
          : json(res, 404, { error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } });
      }
    }
    if (path === '/v1/models' && req.method === 'GET') {
      const ft = [...this.objects.values()]
        .filter((o) => o.object === 'fine_tuning.job')
        .map((o) => ({ id: o.fine_tuned_model, object: 'model', owned_by: 'user-org', created: 1 }));
      return json(res, 200, {
        object: 'list',
        data: [{ id: 'gpt-4o-mini', object: 'model', owned_by: 'system', created: 1 }, ...ft],
      });
    }
    if (path.startsWith('/v1/models/')) {
      const id = path.slice('/v1/models/'.length);
      return json(
        res,
        200,
        req.method === 'DELETE'
          ? { id, object: 'model', deleted: true }
          : { id, object: 'model', owned_by: 'user-org', created: 1 },
      );
    }
    for (const f of FAKE_FAMILIES) {
      if (path === f.base && req.method === 'POST') {
        const id = `${f.prefix}${++this.n}`;
        const o: Record<string, unknown> = { id, object: f.object, created_at: this.n };
        if (f.object === 'batch') {
          o.output_file_id = `file-out${this.n}`;
          this.objects.set(`file-out${this.n}`, { id: `file-out${this.n}`, object: 'file' });
        }
        if (f.object === 'fine_tuning.job') o.fine_tuned_model = `ft:gpt-4o-mini:org::${this.n}`;
        this.objects.set(id, o);
        return json(res, 200, o);
      }
      if (path === f.base && req.method === 'GET') {
        const data = [...this.objects.values()].filter((o) => o.object === f.object);
        return json(res, 200, {
          object: 'list',
          data,
          first_id: data[0]?.id ?? null,
          last_id: data.at(-1)?.id ?? null,
          has_more: false,
        });
      }
      if (path.startsWith(`${f.base}/`)) {
        const [id, sub] = path.slice(f.base.length + 1).split('/');
        const o = this.objects.get(id!);
        if (!o)
          return json(res, 404, {
            error: { message: `No such object: ${id}`, type: 'invalid_request_error', param: 'id', code: null },
          });
        if (sub === 'content')
          return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`content of ${id}`);
        if (req.method === 'DELETE') return json(res, 200, { id, object: f.object, deleted: true });
        return json(res, 200, o);
      }
    }
    json(res, 404, { error: { message: 'unknown path', type: 'invalid_request_error', param: null, code: null } });
  };
}
