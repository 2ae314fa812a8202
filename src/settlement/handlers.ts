import { batchHandler } from './handlers/batch.js';
import { fineTuningHandler } from './handlers/fine-tuning.js';
import { videoHandler } from './handlers/video.js';
import type { DeferredHandler } from './handler.js';
import type { DeferredKind } from './kinds.js';
import { responseHandler } from './handlers/response.js';

/**
 * The handler of each kind of deferred work the settler knows: how it is retrieved, when it is
 * final and what it is charged (background responses, batches, fine-tuning jobs, videos).
 */
export const HANDLERS: Record<DeferredKind, DeferredHandler> = {
  response: responseHandler,
  batch: batchHandler,
  'fine_tuning.job': fineTuningHandler,
  video: videoHandler,
};
