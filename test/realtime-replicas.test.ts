import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeRealtime, type FakeRealtime } from './support/fake-realtime.js';
import { startReplicas, type Replicas } from './support/replicas.js';

/**
 * A client secret tollgate minted is single-use across replicas sharing one Postgres ledger: the
 * same secret presented to two replicas at once opens exactly one session.
 */
let fake: FakeRealtime;
let replicas: Replicas;
beforeAll(async () => {
  fake = await startFakeRealtime();
  replicas = await startReplicas(2, fake.url, {
    allocations: [{ id: 'acme-grant', tokens: 1_000_000 }],
    realtime: { clientSecrets: 'mint' },
  });
});
afterAll(async () => {
  await replicas.close();
  await fake.close();
});

/** Connects to replica `i` with `secret` as a browser does; resolves 'open' or the HTTP status it was refused with. */
function connect(i: number, secret: string): Promise<{ ws?: WebSocket; status: number | 'open' }> {
  const url = replicas.servers[i]!.url.replace('http', 'ws');
  const ws = new WebSocket(`${url}/v1/realtime`, ['realtime', `openai-insecure-api-key.${secret}`]);
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ ws, status: 'open' }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode! }));
    ws.on('error', () => undefined);
  });
}

it('opens one session for one secret presented to two replicas at once, round after round', async () => {
  for (let round = 0; round < 5; round++) {
    const secret = await replicas
      .client(round % 2)
      .realtime.clientSecrets.create({ session: { type: 'realtime', model: 'gpt-4o' } });
    const results = await Promise.all([connect(0, secret.value), connect(1, secret.value)]);
    expect(results.map((r) => r.status).sort()).toEqual([401, 'open']);
    for (const r of results) r.ws?.close();
  }
  expect(fake.attempts).toBe(5);
});
