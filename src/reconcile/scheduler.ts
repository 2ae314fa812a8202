import type { Runtime } from '../runtime.js';
import { redactKeys } from './admin-api.js';
import type { Line, ReconciliationReport } from './report.js';

/** How often the scheduler looks whether the day's run is due (ms): the schedule's precision. */
const CHECK_EVERY_MS = 60_000;
/** A run still `running` after this long (its process died), or failed this long ago, is run again (ms). */
const RETRY_AFTER_MS = 3_600_000;
/** After another process took the day's run, look again this much later (ms). */
const TAKEN_RECHECK_MS = 600_000;

/** Lines of a report beyond the threshold, for the alert: at most `limit`, each with its measures beyond it. */
export function overLines(r: ReconciliationReport, limit = 10) {
  const pick = (l: Line) => ({
    day: l.day,
    model: l.model,
    projectId: l.projectId,
    apiKeyId: l.apiKeyId,
    status: l.status,
    measures: l.measures.filter((m) => m.over),
  });
  return [...r.lines, ...r.days]
    .filter((l) => l.over)
    .slice(0, limit)
    .map(pick);
}

/**
 * The daily reconciliation under `serve` (config `reconciliation.schedule`): once the UTC time
 * passes `at`, the day's run (`daily:<UTC day>`) compares the last `days` UTC days (today's
 * provisional) with OpenAI, keeps the result in the ledger and, beyond the threshold, fires a
 * `reconciliation_drift` alert (log and webhook, like every alert). A process that starts after `at`
 * runs the day's run at once. Across replicas sharing a ledger, `begin` lets one of them run it; a
 * run that failed, or whose process died, is run again an hour later. Config reloads apply at the
 * next check. Nothing here blocks a request: the Admin API is read in the background, and the
 * `openai` SDK is loaded only when a run starts.
 */
export class ReconcileScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started: Promise<void> = Promise.resolve();
  /** The UTC day whose run is done (by this process or another), and when to look again otherwise. */
  private doneDay: string | undefined;
  private notBefore = 0;

  constructor(
    private readonly rt: Pick<Runtime, 'config' | 'ledger' | 'clock' | 'log' | 'alerts'>,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Checks at once (a run due is started), then every minute. */
  start(): void {
    this.started = new Promise((resolve) =>
      setImmediate(() => {
        this.check();
        resolve();
      }),
    );
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  /** Stops checking and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Resolves once the check made at start has happened and no run is in progress. */
  async idle(): Promise<void> {
    await this.started;
    await this.running;
  }

  private check(): void {
    const schedule = this.rt.config.reconciliation.schedule;
    if (!schedule || this.running) return;
    const now = this.rt.clock();
    const today = now.toISOString().slice(0, 10);
    if (this.doneDay === today || now.getTime() < this.notBefore) return;
    if (now.toISOString().slice(11, 16) < schedule.at) return;
    this.running = this.run(today, now, schedule.days)
      .catch((err: unknown) => this.rt.log.error({ err: redactKeys(String(err)) }, 'scheduled reconciliation failed'))
      .finally(() => {
        this.running = undefined;
      });
  }

  private async run(today: string, now: Date, days: number): Promise<void> {
    const { reconcile, addDays } = await import('./run.js');
    const id = `daily:${today}`;
    const fromDay = addDays(today, 1 - days);
    const store = this.rt.ledger.reconciliations;
    const staleBefore = new Date(now.getTime() - RETRY_AFTER_MS).toISOString();
    if (
      !(await store.begin(
        { id, trigger: 'schedule', startedAt: now.toISOString(), fromDay, toDay: today },
        staleBefore,
      ))
    ) {
      this.notBefore = now.getTime() + TAKEN_RECHECK_MS;
      return;
    }
    let report: ReconciliationReport;
    try {
      report = await reconcile(
        this.rt.config,
        this.rt.ledger,
        { from: fromDay, to: today, groupBy: ['day', 'model'], now },
        this.env,
      );
    } catch (err) {
      const error = redactKeys((err as Error).message);
      await store.finish(id, { finishedAt: this.rt.clock().toISOString(), status: 'failed', report: null, error });
      this.notBefore = now.getTime() + RETRY_AFTER_MS;
      this.rt.log.error({ run: id, error }, 'scheduled reconciliation failed; it runs again in an hour');
      return;
    }
    const drift = report.summary.over > 0;
    await store.finish(id, {
      finishedAt: this.rt.clock().toISOString(),
      status: drift ? 'drift' : 'ok',
      report: JSON.stringify(report),
      error: null,
    });
    this.doneDay = today;
    const summary = { run: id, from: fromDay, to: today, ...report.summary };
    if (!drift) return void this.rt.log.info(summary, 'reconciliation with OpenAI: within the threshold');
    this.rt.log.warn(summary, 'reconciliation with OpenAI: drift beyond the threshold');
    this.rt.alerts.reconciliationDrift(id, {
      run: id,
      from: fromDay,
      to: today,
      threshold: report.threshold,
      summary: report.summary,
      lines: overLines(report),
    });
  }
}
