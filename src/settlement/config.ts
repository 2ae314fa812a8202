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
 * - `missesBeforeGone`: consecutive 404s after which an object is taken as gone upstream (default 3).
 */
export const settlementSchema = z
  .object({
    pollIntervalMs: z.number().int().positive().default(1_000),
    firstPollMs: z.number().int().positive().optional(),
    maxPollMs: z.number().int().positive().optional(),
    leaseMs: z.number().int().positive().default(60_000),
    missesBeforeGone: z.number().int().positive().default(3),
  })
  .strict()
  .default({ pollIntervalMs: 1_000, leaseMs: 60_000, missesBeforeGone: 3 });

/** The validated `settlement` section. */
export type SettlementConfig = z.output<typeof settlementSchema>;
