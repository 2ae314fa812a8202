import type { Principal } from '../auth/principal.js';
import type { FileEstimate } from '../ledger/port.js';
import type { OwnershipPlan } from '../ownership/guard.js';
import type { Runtime } from '../runtime.js';
import type { UploadEstimate } from './watch-upload.js';

/**
 * Records an upload's estimate once the upstream answered it with a file object (`{"object":"file",
 * "id","purpose"}`): keyed by the file id, owned by the uploader's company, read the way the
 * answer's `purpose` says (else the form's; `batch` or `fine-tune`, other purposes record nothing). The estimate is
 * almost always ready by then (the upstream answers after the last byte, which busboy read on the
 * way), and is then queued synchronously, before the answer's last byte reaches the client; else
 * it is recorded as soon as it is.
 */
export function recordOnAnswer(
  rt: Pick<Runtime, 'ledger' | 'log' | 'clock'>,
  principal: Principal,
  estimate: Promise<UploadEstimate | undefined>,
): (text: string, requestId: string) => void {
  let ready: { value: UploadEstimate | undefined } | undefined;
  void estimate.then((value) => (ready = { value }));
  return (text, requestId) => {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (file?.object !== 'file' || typeof file.id !== 'string') return;
    const id = file.id;
    const createdAt = rt.clock().toISOString();
    const write = (e: UploadEstimate | undefined) => {
      // The answer's purpose, else the form's (an upstream that does not echo it).
      const purpose = typeof file.purpose === 'string' ? file.purpose : e?.purpose;
      if (!e || (purpose !== 'batch' && purpose !== 'fine-tune')) return;
      const read = purpose === 'batch' ? e.batch : e.training;
      const record: FileEstimate = {
        fileId: id,
        companyId: principal.companyId,
        purpose,
        requestId,
        createdAt,
        lines: e.lines,
        unusable: read.unusable ?? (e.lines === 0 ? 'the file holds no lines' : null),
        models: read.models,
      };
      rt.ledger.fileEstimates
        .record(record)
        .catch((err: unknown) => rt.log.error({ err, requestId, fileId: id }, 'could not record the file estimate'));
    };
    if (ready) write(ready.value);
    else void estimate.then(write);
  };
}

/** The ownership plan with `observe` also recording the file's estimate. */
export function withFileEstimate(
  plan: OwnershipPlan | undefined,
  observe: (text: string, requestId: string) => void,
): OwnershipPlan {
  return {
    ...plan,
    observe: (text, requestId, parsed) => {
      plan?.observe?.(text, requestId, parsed);
      observe(text, requestId);
    },
  };
}
