import { chatStreamMeter, responsesStreamMeter, type StreamMeter } from '../metering/stream-meter.js';

/**
 * A POST endpoint whose JSON requests tollgate meters by tokens.
 * Source for parameter names: openai-openapi (CreateChatCompletionRequest, CreateCompletionRequest,
 * CreateResponse, CreateEmbeddingRequest).
 */
export interface MeteredEndpoint {
  path: string;
  /** The request field that caps output tokens, set by the `clamp` policy; none for embeddings. */
  ceilingParam?: 'max_completion_tokens' | 'max_tokens' | 'max_output_tokens';
  /** The endpoint streams usage only when asked with `stream_options.include_usage`. */
  streamUsageOption: boolean;
  /** Builds the meter for its SSE stream. */
  streamMeter: (hideUsage: boolean) => StreamMeter;
}

/** The token-metered endpoints, by path. */
export const METERED_ENDPOINTS: ReadonlyMap<string, MeteredEndpoint> = new Map(
  (
    [
      { path: '/v1/chat/completions', ceilingParam: 'max_completion_tokens', streamUsageOption: true, streamMeter: chatStreamMeter },
      { path: '/v1/completions', ceilingParam: 'max_tokens', streamUsageOption: true, streamMeter: chatStreamMeter },
      { path: '/v1/responses', ceilingParam: 'max_output_tokens', streamUsageOption: false, streamMeter: responsesStreamMeter },
      { path: '/v1/embeddings', streamUsageOption: false, streamMeter: chatStreamMeter },
    ] satisfies MeteredEndpoint[]
  ).map((e) => [e.path, e]),
);
