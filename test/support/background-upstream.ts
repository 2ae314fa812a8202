import type { ServerResponse } from 'node:http';
import { json, ScriptedUpstream, type Seen } from './scripted-upstream.js';

/** A Responses object's status, as OpenAI names them (openai-openapi: Response.status). */
export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'incomplete' | 'failed' | 'cancelled';

/** Tokens a fake response reports when it ends: input, output. */
export interface FakeUsage {
  input: number;
  output: number;
}

interface FakeResponse {
  id: string;
  model: string;
  status: ResponseStatus;
  usage?: FakeUsage;
}

/**
 * A fake upstream for background Responses (`"background": true`): every response it creates
 * starts `queued` and moves only when the test says so (`advance`, `advanceAll`), or one step per
 * retrieve when `stepPerRetrieve` is set — never by wall-clock time. `GET /v1/responses/{id}`
 * answers the object as it stands (404 once `forget`-ten), `POST …/cancel` cancels it with the
 * usage of what was done so far (`partial`). A background stream sends `response.created` and
 * `response.in_progress`, then ends with `response.completed` (with usage) or, when `cutStreams`,
 * breaks off. Every request is kept in `seen` (retrieves and cancels counted by `calls`).
 */
export class BackgroundUpstream extends ScriptedUpstream {
  readonly responses = new Map<string, FakeResponse>();
  /** The usage every response reports when it completes. */
  usage: FakeUsage = { input: 12, output: 40 };
  /** The usage a response cancelled or failed mid-way reports (what was done). */
  partial: FakeUsage = { input: 12, output: 10 };
  /** Each retrieve moves the object one step: queued → in_progress → completed. */
  stepPerRetrieve = false;
  /** Background streams break off after `response.in_progress`. */
  cutStreams = false;
  private n = 0;

  constructor() {
    super();
    this.script = (req, res) => this.answer(req, res);
  }

  /** Moves response `id` to `status`; a final status sets its usage (`usage` by default, `partial` for failed/cancelled; none for `failed` when `noUsage`). */
  advance(id: string, status: ResponseStatus, opts: { usage?: FakeUsage; noUsage?: boolean } = {}): void {
    const r = this.responses.get(id);
    if (!r) throw new Error(`no fake response ${id}`);
    r.status = status;
    if (status === 'completed' || status === 'incomplete') r.usage = opts.usage ?? this.usage;
    if (status === 'failed' || status === 'cancelled')
      r.usage = opts.noUsage ? undefined : (opts.usage ?? this.partial);
  }

  /** Completes every response still running. */
  advanceAll(status: ResponseStatus = 'completed'): void {
    for (const r of this.responses.values())
      if (r.status === 'queued' || r.status === 'in_progress') this.advance(r.id, status);
  }

  /** The upstream forgets response `id` (deleted): it answers 404 from now on. */
  forget(id: string): void {
    this.responses.delete(id);
  }

  /** Requests seen for `method` and a path matching `path`. */
  calls(method: string, path: RegExp): number {
    return this.seen.filter((s) => s.method === method && path.test(new URL(s.url, 'http://x').pathname)).length;
  }

  private body(r: FakeResponse): Record<string, unknown> {
    return {
      id: r.id,
      object: 'response',
      created_at: 1_764_000_000,
      status: r.status,
      background: true,
      model: r.model,
      output: [],
      error: r.status === 'failed' ? { code: 'server_error', message: 'failed' } : null,
      usage: r.usage
        ? {
            input_tokens: r.usage.input,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: r.usage.output,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: r.usage.input + r.usage.output,
          }
        : null,
    };
  }

  private answer(req: Seen, res: ServerResponse): void {
    const path = new URL(req.url, 'http://x').pathname;
    if (req.method === 'POST' && path === '/v1/responses') {
      const body = JSON.parse(req.body.toString()) as { model: string; stream?: boolean };
      const r: FakeResponse = { id: `resp_bg${++this.n}`, model: `${body.model}-2024-07-18`, status: 'queued' };
      this.responses.set(r.id, r);
      return body.stream ? this.stream(r, res) : json(res, 200, this.body(r));
    }
    const m = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(path);
    const r = m ? this.responses.get(m[1]!) : undefined;
    if (!m || !r)
      return json(res, 404, {
        error: { message: 'No response found', type: 'invalid_request_error', param: null, code: null },
      });
    if (m[2] && req.method === 'POST') {
      if (r.status === 'queued' || r.status === 'in_progress') this.advance(r.id, 'cancelled');
    } else if (req.method === 'GET' && this.stepPerRetrieve) {
      if (r.status === 'queued') r.status = 'in_progress';
      else if (r.status === 'in_progress') this.advance(r.id, 'completed');
    }
    json(res, 200, this.body(r));
  }

  private stream(r: FakeResponse, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (type: string) => `event: ${type}\ndata: ${JSON.stringify({ type, response: this.body(r) })}\n\n`;
    res.write(event('response.created'));
    r.status = 'in_progress';
    if (this.cutStreams) {
      // Break off once the events sent so far have been flushed: the client sees them, then no end.
      res.write(event('response.in_progress'), () => res.socket?.destroy());
      return;
    }
    res.write(event('response.in_progress'));
    this.advance(r.id, 'completed');
    res.end(event('response.completed'));
  }
}
