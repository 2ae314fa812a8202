import type { ServerResponse } from 'node:http';
import { json, type Seen } from './scripted-upstream.js';

/**
 * A fake OpenAI that runs deferred work the way the real one does, one step per retrieval:
 * batches validating → in_progress → finalizing → completed (or cancelling → cancelled with half
 * the requests done), fine-tuning jobs validating_files → queued → running → succeeded (or
 * cancelled), videos queued → in_progress → completed (failed when the prompt says "fail").
 * Uploaded files are kept; a finished batch's output file has one line per request done, each with
 * a usage of 10 prompt + 5 completion tokens and the line's model. Use as a ScriptedUpstream script.
 */
export class DeferredUpstream {
  readonly files = new Map<string, string>();
  readonly objects = new Map<string, Record<string, unknown>>();
  /** Batches report their `usage` when final (OpenAI does for chat batches); false: only the output file has it. */
  reportBatchUsage = true;
  /** Finished batches keep their output file; false: they name one that answers 404 (expired or deleted). */
  keepOutputFiles = true;
  /** What a finished fine-tuning job reports as `trained_tokens`. */
  trainedTokens: number | null = 12_345;
  private n = 0;

  handle = (req: Seen, res: ServerResponse): void => {
    const path = new URL(req.url, 'http://x').pathname;
    const [, , family, id, action] = path.split('/');
    if (req.method === 'POST' && path === '/v1/files') return this.upload(req, res);
    if (req.method === 'GET' && family === 'files' && action === 'content') {
      const text = this.files.get(id!);
      return text === undefined
        ? notFound(res, id!)
        : void res.writeHead(200, { 'content-type': 'application/jsonl' }).end(text);
    }
    const base = family === 'fine_tuning' ? path.split('/').slice(0, 4).join('/') : `/v1/${family}`;
    const objectId = family === 'fine_tuning' ? path.split('/')[4] : id;
    const verb = family === 'fine_tuning' ? path.split('/')[5] : action;
    if (req.method === 'POST' && path === base) return json(res, 200, this.create(base, body(req)));
    const o = objectId ? this.objects.get(objectId) : undefined;
    if (!o) return notFound(res, objectId ?? '');
    if (req.method === 'POST' && verb === 'cancel') {
      o.status = o.object === 'batch' ? 'cancelling' : 'cancelled';
      return json(res, 200, o);
    }
    if (req.method === 'GET' && !verb) {
      this.step(o);
      return json(res, 200, o);
    }
    notFound(res, objectId ?? '');
  };

  private upload(req: Seen, res: ServerResponse): void {
    const text = req.body.toString('utf8');
    const id = `file-${++this.n}`;
    const purpose = /name="purpose"\r\n\r\n([^\r]*)/.exec(text)?.[1] ?? 'batch';
    const content = /filename="[^"]*"\r\n(?:[^\r]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(text)?.[1] ?? '';
    this.files.set(id, content);
    json(res, 200, {
      object: 'file',
      id,
      purpose,
      filename: 'input.jsonl',
      bytes: content.length,
      created_at: this.n,
      status: 'processed',
    });
  }

  private create(base: string, sent: Record<string, unknown>): Record<string, unknown> {
    const id = ++this.n;
    let o: Record<string, unknown>;
    if (base === '/v1/batches') {
      const total = (this.files.get(String(sent.input_file_id)) ?? '').split('\n').filter((l) => l.trim()).length;
      o = {
        id: `batch_${id}`,
        object: 'batch',
        endpoint: sent.endpoint,
        model: null,
        input_file_id: sent.input_file_id,
        status: 'validating',
        output_file_id: null,
        request_counts: { total, completed: 0, failed: 0 },
        usage: {
          input_tokens: 0,
          output_tokens: 0,
          total_tokens: 0,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens_details: { reasoning_tokens: 0 },
        },
      };
    } else if (base === '/v1/fine_tuning/jobs')
      o = {
        id: `ftjob-${id}`,
        object: 'fine_tuning.job',
        model: sent.model,
        status: 'validating_files',
        training_file: sent.training_file,
        hyperparameters: sent.hyperparameters ?? { n_epochs: 'auto' },
        trained_tokens: null,
        error: null,
      };
    else
      o = {
        id: `video_${id}`,
        object: 'video',
        model: sent.model ?? 'sora-2',
        status: 'queued',
        progress: 0,
        prompt: sent.prompt,
        seconds: sent.seconds ?? '4',
        size: sent.size ?? '720x1280',
      };
    this.objects.set(o.id as string, o);
    return o;
  }

  /** Moves an object one status on (a retrieval is the clock). */
  private step(o: Record<string, unknown>): void {
    const next: Record<string, Record<string, string>> = {
      batch: { validating: 'in_progress', in_progress: 'finalizing', finalizing: 'completed', cancelling: 'cancelled' },
      'fine_tuning.job': { validating_files: 'queued', queued: 'running', running: 'succeeded' },
      video: { queued: 'in_progress', in_progress: String(o.prompt).includes('fail') ? 'failed' : 'completed' },
    };
    const to = next[String(o.object)]?.[String(o.status)];
    if (!to) return;
    o.status = to;
    if (o.object === 'batch' && (to === 'completed' || to === 'cancelled')) this.finishBatch(o, to === 'cancelled');
    if (o.object === 'fine_tuning.job' && to === 'succeeded') o.trained_tokens = this.trainedTokens;
    if (o.object === 'video' && to === 'failed') o.error = { code: 'moderation_blocked', message: 'blocked' };
  }

  private finishBatch(o: Record<string, unknown>, cancelled: boolean): void {
    const lines = (this.files.get(String(o.input_file_id)) ?? '').split('\n').filter((l) => l.trim());
    const done = cancelled ? lines.slice(0, Math.floor(lines.length / 2)) : lines;
    const out = done.map((l, i) => {
      const line = JSON.parse(l) as { custom_id: string; body: { model: string } };
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      return JSON.stringify({
        id: `batch_req_${i}`,
        custom_id: line.custom_id,
        response: {
          status_code: 200,
          request_id: `r${i}`,
          body: { object: 'chat.completion', model: line.body.model, usage },
        },
        error: null,
      });
    });
    const fileId = `file-out-${String(o.id)}`;
    if (this.keepOutputFiles) this.files.set(fileId, `${out.join('\n')}\n`);
    o.output_file_id = fileId;
    o.request_counts = { total: lines.length, completed: done.length, failed: 0 };
    o.usage = this.reportBatchUsage
      ? {
          input_tokens: 10 * done.length,
          output_tokens: 5 * done.length,
          total_tokens: 15 * done.length,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens_details: { reasoning_tokens: 0 },
        }
      : null;
  }
}

/** The JSON body, or a form's text fields (the SDK sends videos as a form). */
const body = (req: Seen): Record<string, unknown> => {
  const text = req.body.toString('utf8');
  if (/^multipart\//.test(req.headers['content-type'] ?? ''))
    return Object.fromEntries([...text.matchAll(/name="([^"]+)"\r\n\r\n([^\r]*)/g)].map((m) => [m[1], m[2]]));
  try {
    return JSON.parse(text || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
};

const notFound = (res: ServerResponse, id: string) =>
  json(res, 404, {
    error: { message: `No such object: ${id}`, type: 'invalid_request_error', param: 'id', code: null },
  });
