import { startMockUpstream } from '../demo/mock-upstream.js';

/**
 * `tollgate mock-upstream [--port 9999]`: runs the built-in fake OpenAI API alone (no network, no
 * key, no cost; see `startMockUpstream`) and prints the config line that points tollgate at it.
 * Runs until interrupted (Ctrl-C, SIGTERM). Exits 1 when the port is taken.
 */
export async function mockUpstreamCommand(opts: { port: string }): Promise<void> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port: expected a port number from 0 to 65535, got "${opts.port}"\n`);
    process.exit(1);
  }
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  try {
    mock = await startMockUpstream(port);
  } catch (err) {
    process.stderr.write(`cannot listen on 127.0.0.1:${port}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `mock OpenAI upstream listening on ${mock.url} (chat completions, responses, embeddings, models; any API key)\n\n` +
      `Point tollgate at it (any upstream key will do), in another terminal:\n\n  OPENAI_API_KEY=sk-mock npx tsx src/cli.ts serve --upstream ${mock.url}\n\n` +
      `or set it in proxy.config.json:  "upstream": { "baseUrl": "${mock.url}" }\n` +
      `Stop with Ctrl-C.\n`,
  );
  const stop = () => void mock.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
