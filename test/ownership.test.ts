import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTollgate, type Tollgate } from './support/harness.js';
import { isOpenAiError } from './support/raw-http.js';
import { FAKE_FAMILIES, ObjectUpstream } from './support/object-upstream.js';
import { ScriptedUpstream } from './support/scripted-upstream.js';
import { TEST_PRICES } from './support/harness.js';

let upstream: ScriptedUpstream;
let objects: ObjectUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new ScriptedUpstream().start();
  objects = new ObjectUpstream();
  upstream.script = objects.handle;
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    // The families tollgate does not bill are forwarded only with passthrough; ownership applies either way.
    unknownPaths: 'passthrough',
    // Batches and fine-tuning jobs are held on their files' estimates, videos in USD.
    prices: { 'gpt-4o-mini': { ...TEST_PRICES['gpt-4o-mini'], training: 3 } },
    companies: {
      acme: {
        allocations: [
          { id: 'acme-grant', tokens: 1_000_000 },
          { id: 'acme-usd', usd: 100 },
        ],
      },
      beta: {
        allocations: [
          { id: 'beta-grant', tokens: 1_000_000 },
          { id: 'beta-usd', usd: 100 },
        ],
      },
    },
  });
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.seen.length = 0;
});

const call = async (company: 'acme' | 'beta', method: string, path: string, body?: unknown) => {
  const res = await fetch(`${tollgate.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tollgate.keys[`${company}-key`]}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: (() => {
      try {
        return JSON.parse(text) as Record<string, any>;
      } catch {
        return undefined;
      }
    })(),
  };
};

/** Uploads a one-line file as a form, as the SDK does, so that tollgate reads and estimates it; resolves to its id. */
const uploadFile = async (company: 'acme' | 'beta', purpose: 'batch' | 'fine-tune') => {
  const line =
    purpose === 'batch'
      ? {
          custom_id: 'r1',
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 5 },
        }
      : {
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'assistant', content: 'hello' },
          ],
        };
  const form = new FormData();
  form.set('purpose', purpose);
  form.set('file', new Blob([`${JSON.stringify(line)}\n`]), 'input.jsonl');
  const res = await fetch(`${tollgate.url}/v1/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tollgate.keys[`${company}-key`]}` },
    body: form,
  });
  return ((await res.json()) as { id: string }).id;
};

/** A creation body each family accepts: a batch or job names a file tollgate estimated; others anything. */
const creation = async (company: 'acme' | 'beta', base: string): Promise<unknown> => {
  if (base === '/v1/batches')
    return {
      input_file_id: await uploadFile(company, 'batch'),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    };
  if (base === '/v1/fine_tuning/jobs')
    return { model: 'gpt-4o-mini', training_file: await uploadFile(company, 'fine-tune') };
  if (base === '/v1/videos') return { prompt: 'a toll gate', seconds: '4' };
  return { purpose: 'batch' };
};

describe('two companies against every object family', () => {
  for (const f of FAKE_FAMILIES) {
    it(`${f.base}: own object 200, the other company's 404 without going upstream${f.list ? ', lists filtered' : ''}`, async () => {
      const a = await call('acme', 'POST', f.base, await creation('acme', f.base));
      const b = await call('beta', 'POST', f.base, await creation('beta', f.base));
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      const aId = a.json!.id as string;
      const bId = b.json!.id as string;

      expect((await call('acme', 'GET', `${f.base}/${aId}`)).status).toBe(200);
      upstream.seen.length = 0;
      for (const [method, suffix] of [
        ['GET', ''],
        ['POST', ''],
        ['DELETE', ''],
        ['POST', '/cancel'],
        ['GET', '/content'],
        ['GET', '/files'],
        ['POST', '/files'],
      ] as const) {
        const r = await call('beta', method, `${f.base}/${aId}${suffix}`, method === 'POST' ? {} : undefined);
        expect(r.status, `${method} ${f.base}/{id}${suffix}`).toBe(404);
        expect(isOpenAiError(r.text)).toBe(true);
        expect(r.json!.error.message).toContain(aId);
      }
      expect(upstream.seen).toHaveLength(0);

      if (f.list) {
        const listA = await call('acme', 'GET', f.base);
        const idsA = (listA.json!.data as { id: string }[]).map((o) => o.id);
        expect(idsA).toContain(aId);
        expect(idsA).not.toContain(bId);
        const listB = await call('beta', 'GET', f.base);
        const idsB = (listB.json!.data as { id: string }[]).map((o) => o.id);
        expect(idsB).toContain(bId);
        expect(idsB).not.toContain(aId);
        expect(listB.json).toHaveProperty('has_more', false);
      }
    });
  }

  for (const stream of [false, true]) {
    it(`stored responses and chat completions (stream: ${stream}) belong to the company that created them`, async () => {
      const r = await tollgate
        .client(tollgate.keys['acme-key'])
        .responses.create({ model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 16, stream } as never);
      let respId: string;
      if (stream) {
        let id = '';
        for await (const e of r as unknown as AsyncIterable<{ type: string; response?: { id: string } }>)
          if (e.response) id = e.response.id;
        respId = id;
      } else respId = (r as unknown as { id: string }).id;
      const c = await call('acme', 'POST', '/v1/chat/completions', {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 5,
        store: true,
        stream,
      });
      const chatId = stream ? (/"id":"(chatcmpl-\d+)"/.exec(c.text)?.[1] as string) : (c.json!.id as string);
      expect(respId).toMatch(/^resp_/);
      expect(chatId).toMatch(/^chatcmpl-/);
      await tollgate.settled();

      expect((await call('acme', 'GET', `/v1/responses/${respId}`)).status).toBe(200);
      expect((await call('acme', 'GET', `/v1/chat/completions/${chatId}`)).status).toBe(200);
      upstream.seen.length = 0;
      for (const path of [
        `/v1/responses/${respId}`,
        `/v1/responses/${respId}/input_items`,
        `/v1/chat/completions/${chatId}`,
        `/v1/chat/completions/${chatId}/messages`,
      ]) {
        expect((await call('beta', 'GET', path)).status, path).toBe(404);
        expect((await call('beta', 'DELETE', path)).status, path).toBe(404);
      }
      expect((await call('beta', 'POST', `/v1/responses/${respId}/cancel`, {})).status).toBe(404);
      expect(upstream.seen).toHaveLength(0);
      const listB = (await call('beta', 'GET', '/v1/chat/completions')).json!.data as { id: string }[];
      expect(listB.map((o) => o.id)).not.toContain(chatId);
      const listA = (await call('acme', 'GET', '/v1/chat/completions')).json!.data as { id: string }[];
      expect(listA.map((o) => o.id)).toContain(chatId);
    });
  }

  it("hides a batch's output file from the other company and shows it to the owner", async () => {
    const input = await uploadFile('acme', 'batch');
    const a = await call('acme', 'POST', '/v1/batches', { input_file_id: input });
    const out = a.json!.output_file_id as string;
    expect((await call('acme', 'GET', `/v1/files/${out}/content`)).text).toBe(`content of ${out}`);
    expect((await call('beta', 'GET', `/v1/files/${out}/content`)).status).toBe(404);
    expect(((await call('beta', 'GET', '/v1/files')).json!.data as { id: string }[]).map((o) => o.id)).not.toContain(
      out,
    );
  });

  it("GET /v1/models hides other companies' fine-tuned models; retrieve and delete of one answer 404", async () => {
    const training = await uploadFile('acme', 'fine-tune');
    const job = await call('acme', 'POST', '/v1/fine_tuning/jobs', { model: 'gpt-4o-mini', training_file: training });
    const model = job.json!.fine_tuned_model as string;
    const mineA = (await call('acme', 'GET', '/v1/models')).json!.data as { id: string }[];
    const mineB = (await call('beta', 'GET', '/v1/models')).json!.data as { id: string }[];
    expect(mineA.map((m) => m.id)).toEqual(expect.arrayContaining(['gpt-4o-mini', model]));
    expect(mineB.map((m) => m.id)).toContain('gpt-4o-mini');
    expect(mineB.map((m) => m.id)).not.toContain(model);
    upstream.seen.length = 0;
    expect((await call('beta', 'GET', `/v1/models/${model}`)).status).toBe(404);
    expect((await call('beta', 'DELETE', `/v1/models/${model}`)).status).toBe(404);
    expect(upstream.seen).toHaveLength(0);
    expect((await call('acme', 'GET', `/v1/models/${model}`)).status).toBe(200);
    expect((await call('beta', 'GET', '/v1/models/gpt-4o-mini')).status).toBe(200);
  });

  it("refuses request bodies that reference another company's objects, before any hold or upstream call", async () => {
    const file = await uploadFile('acme', 'batch');
    const training = await uploadFile('acme', 'fine-tune');
    const resp = (
      await call('acme', 'POST', '/v1/responses', { model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 5 })
    ).json!.id as string;
    const job = await call('acme', 'POST', '/v1/fine_tuning/jobs', { model: 'gpt-4o-mini', training_file: training });
    const model = job.json!.fine_tuned_model as string;
    const vs = (await call('acme', 'POST', '/v1/vector_stores', {})).json!.id as string;
    const conv = (await call('acme', 'POST', '/v1/conversations', {})).json!.id as string;
    await tollgate.settled();
    const heldBefore = tollgate.query('SELECT SUM(held) AS h FROM grants')[0]!.h;
    upstream.seen.length = 0;
    const cases: [string, unknown, string][] = [
      [
        '/v1/batches',
        { input_file_id: file, endpoint: '/v1/chat/completions', completion_window: '24h' },
        'input_file_id',
      ],
      ['/v1/fine_tuning/jobs', { model: 'gpt-4o-mini', training_file: file }, 'training_file'],
      ['/v1/vector_stores', { file_ids: [file] }, 'file_ids'],
      [
        '/v1/responses',
        { model: 'gpt-4o-mini', input: 'hi', previous_response_id: resp, max_output_tokens: 5 },
        'previous_response_id',
      ],
      [
        '/v1/responses',
        { model: 'gpt-4o-mini', input: 'hi', conversation: { id: conv }, max_output_tokens: 5 },
        'conversation',
      ],
      [
        '/v1/responses',
        {
          model: 'gpt-4o-mini',
          input: 'hi',
          tools: [{ type: 'file_search', vector_store_ids: [vs] }],
          max_output_tokens: 5,
        },
        'vector_store_ids',
      ],
      [
        '/v1/responses',
        {
          model: 'gpt-4o-mini',
          input: [{ role: 'user', content: [{ type: 'input_file', file_id: file }] }],
          max_output_tokens: 5,
        },
        'file_id',
      ],
      [
        '/v1/chat/completions',
        { model, messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 5 },
        'model',
      ],
    ];
    for (const [path, body, param] of cases) {
      const r = await call('beta', 'POST', path, body);
      expect(r.status, `${path} ${param}`).toBe(404);
      expect(r.json!.error.param).toBe(param);
    }
    expect(upstream.seen).toHaveLength(0);
    expect(tollgate.query('SELECT SUM(held) AS h FROM grants')[0]!.h).toBe(heldBefore);
    // The owner may use them; metadata never counts as a reference.
    expect(
      (await call('acme', 'POST', '/v1/batches', { input_file_id: file, metadata: { conversation: 'anything' } }))
        .status,
    ).toBe(200);
  });

  it('hides objects tollgate never saw created from everyone not listed in objects.unrecordedVisibleTo', async () => {
    objects.objects.set('file-preexisting', { id: 'file-preexisting', object: 'file' });
    upstream.seen.length = 0;
    expect((await call('acme', 'GET', '/v1/files/file-preexisting')).status).toBe(404);
    expect(((await call('acme', 'GET', '/v1/files')).json!.data as { id: string }[]).map((o) => o.id)).not.toContain(
      'file-preexisting',
    );
    expect(upstream.seen.filter((s) => s.url.includes('preexisting'))).toHaveLength(0);
  });
});
