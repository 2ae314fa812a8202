import type { Readable } from 'node:stream';
import type { Principal } from '../auth/principal.js';
import { priceBook } from '../pricing/price.js';
import type { Runtime } from '../runtime.js';
import { recordOnAnswer } from './record.js';
import { watchFileUpload } from './watch-upload.js';

/**
 * For `POST /v1/files` with a multipart/form-data body: the upload to forward (watched as it
 * streams, see watch-upload.ts) and the observer that records its estimate from the upstream's
 * answer (record.ts). Undefined for any other request.
 */
export function watchFilesUpload(
  rt: Pick<Runtime, 'config' | 'ledger' | 'log' | 'clock'>,
  principal: Principal,
  method: string,
  path: string,
  upload: Readable,
  contentType: string,
): { body: Readable; observe: (text: string, requestId: string) => void } | undefined {
  if (method !== 'POST' || path !== '/v1/files' || !/^multipart\/form-data/i.test(contentType)) return undefined;
  const config = rt.config;
  const now = rt.clock();
  const watched = watchFileUpload(upload, contentType, config.admission, (m) =>
    priceBook(config).find(m, now, principal.companyId),
  );
  return { body: watched.body, observe: recordOnAnswer(rt, principal, watched.estimate) };
}
