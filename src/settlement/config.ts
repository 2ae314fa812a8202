import { z } from 'zod';

/**
 * The config's `settlement` section: how tollgate's settler polls upstream work that finishes later
 * (background responses, batches, fine-tuning jobs, videos; see src/settlement/settler.ts). All in ms.
 * - `pollIntervalMs`: how often the settler looks in the ledger for objects due (default 1,000). A
 *   look costs one ledger query, no upstream call; a client's retrieve or cancel of a pending
 *   object wakes it at once.
 * - `firstPollMs`, `maxPollMs`: each object is first polled `firstPollMs` after it was deferred,
 *   then the wait doubles up to `maxPollMs` (one upstream GET per poll). Absent: each kind's own
 *   schedule (a background response 2 s → 60 s; see its handler).
 * - `leaseMs`: how long a settler's claim on an object lasts; a replica that dies mid-poll lets it
 *   lapse and another claims the object (default 60,000).
 * - `maxAgeMs`: how long after it was deferred an object is settled whatever the upstream answers
 *   (its deadline). Absent: each kind's own (24 h for responses and videos, 72 h for batches, 7 days
 *   for fine-tuning jobs).
 * - `missesBeforeGone`: consecutive 404s (or 410s) after which an object is taken as gone upstream (default 3).
 */
const positiveMs = z.number().int().positive();

export const settlementSchema = z
  .object({
    pollIntervalMs: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .meta({
        description:
          "How often the settler looks in the ledger for objects due (a ledger query, no upstream call); a client's retrieve or cancel wakes it at once.",
        unit: 'ms',
        examples: [5000],
      }),
    firstPollMs: positiveMs.optional().meta({
      description:
        "How long after it was deferred an object is first polled. Absent: its kind's own (a background response 2 s, a video 15 s, a batch or fine-tuning job 60 s).",
      unit: 'ms',
      examples: [10000],
    }),
    maxPollMs: positiveMs.optional().meta({
      description:
        "The longest wait between two polls of an object (the wait doubles up to it). Absent: its kind's own (60 s for responses and videos, 10 min for batches and fine-tuning jobs).",
      unit: 'ms',
      examples: [300000],
    }),
    maxAgeMs: positiveMs.optional().meta({
      description:
        "An object's deadline: this long after it was deferred it is settled whatever the upstream answers — still pending, it is charged what it reports so far (or an estimate, by `admission.interruptedPolicy`); unreadable, by `admission.interruptedPolicy` — with `upstream_object_unresolved`. Absent: its kind's own (24 h for responses and videos, 72 h for batches, 7 days for fine-tuning jobs).",
      unit: 'ms',
      examples: [172800000],
    }),
    leaseMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .meta({
        description: "How long a replica's claim on an object lasts; one that dies mid-poll lets it lapse.",
        unit: 'ms',
        examples: [120000],
      }),
    missesBeforeGone: z
      .number()
      .int()
      .positive()
      .default(3)
      .meta({
        description:
          'Consecutive 404s (or 410s) after which an object is taken as gone upstream and settled by `admission.interruptedPolicy`.',
        unit: 'polls',
        examples: [5],
      }),
  })
  .strict()
  .default({ pollIntervalMs: 1_000, leaseMs: 60_000, missesBeforeGone: 3 })
  .meta({
    description:
      'The settler of deferred work (background responses, batches, fine-tuning jobs, videos): how it polls the upstream.',
  });

/** The validated `settlement` section. */
export type SettlementConfig = z.output<typeof settlementSchema>;
