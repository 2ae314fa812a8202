import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { MAX_LINE_BYTES, watchFileUpload } from '../src/files/watch-upload.js';
import { priceBook } from '../src/pricing/price.js';

/** The streaming reader of `POST /v1/files` uploads (src/files/watch-upload.ts), fed a form in small chunks. */

const BOUNDARY = 'tollgate-test-boundary';
const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;
const config = parseConfig({ companies: {} });
const priceOf = (m: string) => priceBook(config).find(m, new Date());

/** A multipart/form-data body with `parts` in order, split into `chunk`-byte pieces. */
function form(parts: ({ field: string; value: string } | { file: Buffer })[], chunk = 1000): Readable {
  const bufs: Buffer[] = [];
  for (const p of parts) {
    bufs.push(Buffer.from(`--${BOUNDARY}\r\n`));
    if ('field' in p) bufs.push(Buffer.from(`Content-Disposition: form-data; name="${p.field}"\r\n\r\n${p.value}\r\n`));
    else {
      bufs.push(
        Buffer.from(
          'Content-Disposition: form-data; name="file"; filename="in.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n',
        ),
      );
      bufs.push(p.file, Buffer.from('\r\n'));
    }
  }
  bufs.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  const all = Buffer.concat(bufs);
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length; i += chunk) pieces.push(all.subarray(i, i + chunk));
  return Readable.from(pieces);
}

const line = (text: string, max = 10) =>
  JSON.stringify({
    custom_id: text,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], max_tokens: max },
  });

async function read(body: Readable) {
  const watched = watchFileUpload(body, CONTENT_TYPE, config.admission, priceOf);
  const forwarded: Buffer[] = [];
  watched.body.on('data', (c: Buffer) => forwarded.push(c));
  const estimate = await watched.estimate;
  return { estimate, forwarded: Buffer.concat(forwarded) };
}

describe('reading an upload as it streams', () => {
  it('reads a file sent before its purpose (the SDK order), lines split across chunks, CRLF and no final newline', async () => {
    const file = Buffer.from([line('one'), line('two, a bit longer', 20), '', line('three')].join('\r\n'));
    const { estimate } = await read(form([{ file }, { field: 'purpose', value: 'batch' }], 7));
    expect(estimate).toMatchObject({ purpose: 'batch', lines: 3, batch: { unusable: null } });
    expect(estimate!.batch.models).toEqual([expect.objectContaining({ model: 'gpt-4o-mini', lines: 3 })]);
    expect(estimate!.batch.models[0]!.maxTokens - estimate!.batch.models[0]!.promptTokens).toBe(40);
    expect(estimate!.training.unusable).toMatch(/^line 1: not a training example/);
  });

  it('forwards the upload byte for byte', async () => {
    const file = Buffer.from(`${line('x')}\n`);
    const original = Buffer.concat(await form([{ field: 'purpose', value: 'batch' }, { file }]).toArray());
    const { forwarded } = await read(Readable.from([original]));
    expect(forwarded.equals(original)).toBe(true);
  });

  it('marks a line over the size limit unusable without keeping it, and still counts the lines after it', async () => {
    const long = `{"custom_id":"${'x'.repeat(MAX_LINE_BYTES)}"}`;
    const file = Buffer.from([line('first'), long, line('third')].join('\n'));
    const { estimate } = await read(form([{ field: 'purpose', value: 'batch' }, { file }], 64 * 1024));
    expect(estimate).toMatchObject({
      lines: 3,
      batch: { unusable: `line 2: longer than ${MAX_LINE_BYTES} bytes`, models: [] },
    });
  });

  it('names the first line that is not JSON, or not a request', async () => {
    const bad = await read(
      form([{ field: 'purpose', value: 'batch' }, { file: Buffer.from(`${line('a')}\n{"nope"\n`) }]),
    );
    expect(bad.estimate!.batch.unusable).toMatch(/^line 2: We could not parse the JSON body/);
    const wrongUrl = JSON.stringify({
      custom_id: 'a',
      method: 'POST',
      url: '/v1/images/generations',
      body: { model: 'dall-e-3', prompt: 'x' },
    });
    const other = await read(form([{ field: 'purpose', value: 'batch' }, { file: Buffer.from(wrongUrl) }]));
    expect(other.estimate!.batch.unusable).toMatch(/^line 1: "url" must be one of/);
  });

  it('counts training examples (chat and preference formats)', async () => {
    const chat = {
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    };
    const dpo = {
      input: { messages: [{ role: 'user', content: 'hi' }] },
      preferred_output: [{ role: 'assistant', content: 'hello' }],
      non_preferred_output: [{ role: 'assistant', content: 'go away' }],
    };
    const { estimate } = await read(
      form([
        { field: 'purpose', value: 'fine-tune' },
        { file: Buffer.from(`${JSON.stringify(chat)}\n${JSON.stringify(dpo)}\n`) },
      ]),
    );
    expect(estimate).toMatchObject({ purpose: 'fine-tune', lines: 2, training: { unusable: null } });
    expect(estimate!.training.models[0]!.lines).toBe(2);
    expect(estimate!.batch.unusable).toBe('uploaded for fine-tuning');
  });

  it('reads nothing for another purpose given first, or a body that is not a form', async () => {
    expect(
      (await read(form([{ field: 'purpose', value: 'assistants' }, { file: Buffer.from('%PDF-1.7') }]))).estimate,
    ).toBeUndefined();
    const notForm = watchFileUpload(Readable.from([Buffer.from('{}')]), 'application/json', config.admission, priceOf);
    notForm.body.resume();
    expect(await notForm.estimate).toBeUndefined();
  });
});
