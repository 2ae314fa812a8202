import { createHash, createHmac } from 'node:crypto';
import type { CompanyConfig } from '../config/schema.js';
import { invalidRequest, type Denial } from '../http/denial.js';

/**
 * The end user a request is made for: the app's own user, named by OpenAI's `safety_identifier`
 * (else the older `user`) in the JSON body. Source of the fields: openai-openapi
 * (CreateChatCompletionRequest, CreateResponse, CreateCompletionRequest, CreateEmbeddingRequest,
 * CreateImageRequest); `safety_identifier` is documented as at most 64 characters, tollgate takes
 * up to `MAX_END_USER_LENGTH` and leaves the rest to the upstream.
 */

/** The longest end-user id tollgate records (characters). */
export const MAX_END_USER_LENGTH = 512;

/** The endpoints whose request body can name an end user. */
const CARRIES_END_USER = new Set([
  '/v1/chat/completions',
  '/v1/responses',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/images/generations',
]);

/** True when requests to `endpoint` can carry an end-user id (`safety_identifier` or `user`). */
export function carriesEndUser(endpoint: string): boolean {
  return CARRIES_END_USER.has(endpoint);
}

/** The id as the ledger keeps it, per the company's `endUsers.store` (see `endUsersSchema`). */
export function storedEndUser(companyId: string, company: CompanyConfig, id: string): string {
  const e = company.endUsers;
  if (e?.store !== 'hashed') return id;
  const key = e.hashKeyEnv ? process.env[e.hashKeyEnv] : undefined;
  const digest = key
    ? createHmac('sha256', key).update(id, 'utf8').digest('hex')
    : createHash('sha256').update(`${companyId}\0${id}`, 'utf8').digest('hex');
  return digest.slice(0, 32);
}

/**
 * The end user a JSON body to `endpoint` names, as stored (`storedEndUser`); null when it names
 * none (or the endpoint has no such field). A request that could name one and does not is refused
 * (400 `missing_end_user`) when the company's `endUsers.missing` is `refuse`. A field that is not a
 * string (or null), or is longer than `MAX_END_USER_LENGTH`, is a 400 naming it. An empty string
 * names no one.
 */
export function endUserOf(
  companyId: string,
  company: CompanyConfig,
  endpoint: string,
  body: Readonly<Record<string, unknown>>,
): string | null | Denial {
  if (!carriesEndUser(endpoint)) return null;
  let id: string | null = null;
  for (const field of ['safety_identifier', 'user'] as const) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return invalidRequest(`Invalid type for '${field}': expected a string.`, field);
    if (v.length > MAX_END_USER_LENGTH)
      return invalidRequest(
        `'${field}' is too long: tollgate records end-user ids of at most ${MAX_END_USER_LENGTH} characters.`,
        field,
        'invalid_end_user',
      );
    id ??= v === '' ? null : v;
  }
  if (id !== null) return storedEndUser(companyId, company, id);
  if (company.endUsers?.missing === 'refuse')
    return invalidRequest(
      "This key's company requires the end user each request is made for: send 'safety_identifier' (or 'user') with a stable id of your app's user.",
      'safety_identifier',
      'missing_end_user',
    );
  return null;
}
