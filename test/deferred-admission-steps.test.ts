import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { autoEpochs, epochsOf } from '../src/proxy/deferred/fine-tuning.js';
import { trainingPrice } from '../src/pricing/training.js';
import { videoRequest } from '../src/proxy/deferred/video.js';

/** The pure steps of the deferred admissions (proxy/deferred/): epochs, training prices, video fields. */

const config = parseConfig({ companies: {} });
const now = new Date('2026-11-30T12:00:00Z');

describe('fine-tuning epochs', () => {
  it("follows OpenAI's documented auto default for the example count", () => {
    expect([1, 3, 4, 33, 34, 100, 8_333, 8_334, 25_000, 100_000].map(autoEpochs)).toEqual([
      25, 25, 25, 3, 3, 3, 3, 2, 1, 1,
    ]);
  });

  it('reads n_epochs from hyperparameters or method.<type>.hyperparameters; auto from the config when set', () => {
    const a = config.admission;
    expect(epochsOf({ hyperparameters: { n_epochs: 4 } }, 10, a)).toBe(4);
    expect(epochsOf({ method: { type: 'dpo', dpo: { hyperparameters: { n_epochs: 2 } } } }, 10, a)).toBe(2);
    expect(epochsOf({ hyperparameters: { n_epochs: 'auto' } }, 10, a)).toBe(10);
    expect(epochsOf({}, 1000, a)).toBe(3);
    expect(epochsOf({}, 1000, { ...a, fineTuningAutoEpochs: 7 })).toBe(7);
    for (const bad of [0, 51, 2.5, '3', true])
      expect(epochsOf({ hyperparameters: { n_epochs: bad } }, 10, a)).toMatchObject({
        kind: 'invalid_request',
        param: 'n_epochs',
      });
  });

  it("prices training by name, family, or a fine-tuned model's base; none for models OpenAI does not train", () => {
    expect(trainingPrice(config, 'gpt-4o-mini-2024-07-18', now)?.price.training).toBe(3);
    expect(trainingPrice(config, 'gpt-4.1-nano-2025-04-14', now)?.price.training).toBe(1.5);
    expect(trainingPrice(config, 'ft:gpt-4o-2024-08-06:acme::abc', now)?.price.training).toBe(25);
    expect(trainingPrice(config, 'gpt-5', now)).toBeUndefined();
  });
});

describe('video fields', () => {
  const json = (body: unknown) => videoRequest(Buffer.from(JSON.stringify(body)), 'application/json');

  it('defaults to sora-2 and 4 seconds; reads seconds as OpenAI writes them', async () => {
    expect(await json({ prompt: 'x' })).toEqual({ model: 'sora-2', seconds: 4 });
    expect(await json({ prompt: 'x', model: 'sora-2-pro', seconds: '12', size: '1024x1792' })).toEqual({
      model: 'sora-2-pro',
      seconds: 12,
      size: '1024x1792',
    });
  });

  it('refuses bad seconds, sizes and models with a 400 naming the field', async () => {
    for (const [body, param] of [
      [{ seconds: 'forever' }, 'seconds'],
      [{ seconds: -4 }, 'seconds'],
      [{ seconds: '1000' }, 'seconds'],
      [{ size: 720 }, 'size'],
      [{ model: 7 }, 'model'],
    ] as const)
      expect(await json({ prompt: 'x', ...body })).toMatchObject({ kind: 'invalid_request', param });
    // Fields are read as own properties only: a "__proto__" key in the JSON names nothing.
    const proto = Buffer.from('{"__proto__": {"seconds": "12", "model": "sora-2-pro"}, "prompt": "x"}');
    expect(await videoRequest(proto, 'application/json')).toEqual({ model: 'sora-2', seconds: 4 });
    expect(await videoRequest(Buffer.from('not a form'), 'multipart/form-data')).toMatchObject({
      kind: 'invalid_request',
    });
  });

  it('reads a multipart form, skipping its files', async () => {
    const form = new FormData();
    form.set('model', 'sora-2-pro');
    form.set('seconds', '8');
    form.set('input_reference', new Blob([Buffer.alloc(10_000, 1)]), 'ref.png');
    const req = new Request('http://x', { method: 'POST', body: form });
    const raw = Buffer.from(await req.arrayBuffer());
    expect(await videoRequest(raw, req.headers.get('content-type')!)).toEqual({ model: 'sora-2-pro', seconds: 8 });
  });
});
