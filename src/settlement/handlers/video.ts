import { NO_TOKENS } from '../../metering/usage.js';
import { OBJECT_UNRESOLVED, type DeferredHandler, type ReadContext } from '../handler.js';
import type { ObjectState } from '../kinds.js';

/**
 * The `video` handler: settles a video (`POST /v1/videos`) once it is final. Source:
 * openai/openai-openapi, schema `VideoResource` (`status`: `queued`, `in_progress`, `completed`,
 * `failed`; `model` (default `sora-2`); `seconds`: `"4"`, `"8"` or `"12"`; `size`: `"720x1280"`…;
 * `error.code`).
 *
 * Charged when `completed`: its `seconds` of video (`videoSeconds`, priced per second for its
 * `size`, usage source `computed`: the upstream reports units, not a bill). A failed video is
 * voided (nothing charged), and so is a video still pending at its deadline
 * (`upstream_object_unresolved`): a video is billed only once delivered, and its prompt costs nothing.
 */

type Json = Record<string, unknown>;

const FINAL = new Set(['completed', 'failed']);

/** The default model and length of `POST /v1/videos` (openai-openapi CreateVideoBody). */
export const VIDEO_DEFAULTS = { model: 'sora-2', seconds: 4 } as const;

/** Seconds as the API writes them (`"8"`, or a number), or undefined when not a positive finite number. */
export function videoSeconds(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

async function readVideo(video: Json, ctx: ReadContext): Promise<ObjectState> {
  const status = typeof video.status === 'string' ? video.status : 'unknown';
  const pending = !FINAL.has(status);
  if (pending && !ctx.overdue) return { final: false, status };
  const model = typeof video.model === 'string' ? video.model : VIDEO_DEFAULTS.model;
  if (pending) return { final: true, charge: { status, model, usageSource: 'computed', errorCode: OBJECT_UNRESOLVED } };
  if (status === 'failed') {
    const error = video.error && typeof video.error === 'object' ? (video.error as Json) : undefined;
    return {
      final: true,
      charge: {
        status,
        model,
        usageSource: 'computed',
        errorCode: typeof error?.code === 'string' ? error.code : 'video_failed',
      },
    };
  }
  const seconds = videoSeconds(video.seconds) ?? VIDEO_DEFAULTS.seconds;
  const size = typeof video.size === 'string' ? video.size : undefined;
  return {
    final: true,
    charge: {
      status,
      model,
      usage: { ...NO_TOKENS, videoSeconds: seconds, ...(size ? { videoSize: size } : {}) },
      usageSource: 'computed',
    },
  };
}

export const videoHandler: DeferredHandler = {
  kind: 'video',
  retrievePath: (id) => `/v1/videos/${encodeURIComponent(id)}`,
  read: readVideo,
  // A video takes about one to a few minutes: first look after 15 s, then at most every minute;
  // settled 24 hours after creation whatever happens.
  schedule: { firstMs: 15_000, maxMs: 60_000, maxAgeMs: 24 * 3_600_000 },
};
