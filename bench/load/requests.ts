/** The request bodies the bench sends: a short chat completion, as a typical SDK call makes it. */
import { modelOf, type Variant } from '../lib/variants.js';

const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant. Answer in one sentence.' },
  { role: 'user', content: 'Write one sentence about the sea, for a postcard.' },
];

/** A non-streamed chat completion request for the upstream behaviour `v` (JSON text). */
export const chatBody = (v: Variant): string =>
  JSON.stringify({ model: modelOf(v), messages: MESSAGES, max_completion_tokens: 64 });

/**
 * A streamed chat completion request for `v`, without `stream_options.include_usage` (the SDK's
 * default): tollgate then asks the upstream for usage and hides the usage chunk from the client.
 */
export const streamBody = (v: Variant): string =>
  JSON.stringify({ model: modelOf(v), messages: MESSAGES, max_completion_tokens: 64, stream: true });
