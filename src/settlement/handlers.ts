import type { DeferredHandler, DeferredKind } from './kinds.js';
import { responseHandler } from './response.js';

/**
 * The handler of each kind of deferred work the settler knows (one per `DeferredKind`). An object
 * of a kind without a handler here stays pending (logged at each poll, polled at the config's
 * `maxPollMs` or once a minute) until one is registered.
 */
export const HANDLERS: Partial<Record<DeferredKind, DeferredHandler>> = {
  response: responseHandler,
};
