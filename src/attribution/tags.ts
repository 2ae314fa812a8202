import type { Principal } from '../auth/principal.js';
import type { CompanyConfig } from '../config/schema.js';
import { DEFAULT_TAGS } from '../config/schema-budgets.js';
import { invalidRequest, type Denial } from '../http/denial.js';

/**
 * Spend tags: labels a request carries for cost attribution (a feature, a team, a customer), from
 * the `x-tollgate-tags` header (comma-separated, like LiteLLM's `x-litellm-tags`) and from the
 * `metadata` keys the company names (`tags.fromMetadata`: `{"team":"search"}` gives `team:search`).
 *
 * What a tag is: the text between commas with the whitespace around it trimmed; empty items are
 * skipped and repeats kept once, in first-seen order. A request whose tags break the company's
 * bounds is refused whole — 400 `invalid_tags` naming the tag — rather than trimmed, so a report is
 * never silently missing a tag the app sent: more than `maxCount` distinct tags, one longer than
 * `maxLength` characters, or one with a control character.
 */

/** The request header carrying tags. */
export const TAGS_HEADER = 'x-tollgate-tags';

const CONTROL = /[\u0000-\u001f\u007f]/;

/** The company's tag settings, defaults filled in. */
const settingsOf = (company: CompanyConfig) => company.tags ?? DEFAULT_TAGS;

/** Checks one tag against the bounds; the denial names `param`. */
function refusal(tag: string, param: string, maxLength: number): Denial | undefined {
  if ([...tag].length > maxLength)
    return invalidRequest(
      `The tag "${[...tag].slice(0, 32).join('')}…" is longer than ${maxLength} characters.`,
      param,
      'invalid_tags',
    );
  if (CONTROL.test(tag)) return invalidRequest('A tag may not contain control characters.', param, 'invalid_tags');
  return undefined;
}

/**
 * The tags of `header` (the `x-tollgate-tags` value; Node joins repeated headers with ", ", which
 * reads the same), or the 400 `invalid_tags` denial. Undefined or blank: no tags.
 */
export function headerTags(company: CompanyConfig, header: string | undefined): string[] | Denial {
  if (header === undefined) return [];
  const { maxCount, maxLength } = settingsOf(company);
  const tags: string[] = [];
  for (const item of header.split(',')) {
    const tag = item.trim();
    if (tag === '' || tags.includes(tag)) continue;
    const bad = refusal(tag, TAGS_HEADER, maxLength);
    if (bad) return bad;
    tags.push(tag);
    if (tags.length > maxCount)
      return invalidRequest(`A request may carry at most ${maxCount} tags.`, TAGS_HEADER, 'invalid_tags');
  }
  return tags;
}

/**
 * The principal with the tags of its request's `x-tollgate-tags` header attached (first value; see
 * `headerTags`), so that admission records them on the row; or the 400 `invalid_tags` denial.
 */
export function withTags(
  principal: Principal,
  company: CompanyConfig,
  header: string | string[] | undefined,
): Principal | Denial {
  const tags = headerTags(company, Array.isArray(header) ? header.join(',') : header);
  return Array.isArray(tags) ? (tags.length ? { ...principal, tags } : principal) : tags;
}

/**
 * `fromHeader` followed by the tags of the JSON body's `metadata` keys the company names
 * (`<key>:<value>`, string values only: the upstream refuses any other), or the 400 `invalid_tags`
 * denial when together they break the bounds.
 */
export function requestTags(
  company: CompanyConfig,
  fromHeader: readonly string[],
  body: Readonly<Record<string, unknown>>,
): string[] | Denial {
  const { fromMetadata, maxCount, maxLength } = settingsOf(company);
  const metadata = body.metadata;
  if (fromMetadata.length === 0 || !metadata || typeof metadata !== 'object') return [...fromHeader];
  const tags = [...fromHeader];
  for (const key of fromMetadata) {
    const value = Object.hasOwn(metadata, key) ? (metadata as Record<string, unknown>)[key] : undefined;
    if (typeof value !== 'string' || value.trim() === '') continue;
    const tag = `${key}:${value.trim()}`;
    if (tags.includes(tag)) continue;
    const bad = refusal(tag, `metadata.${key}`, maxLength);
    if (bad) return bad;
    tags.push(tag);
    if (tags.length > maxCount)
      return invalidRequest(`A request may carry at most ${maxCount} tags.`, `metadata.${key}`, 'invalid_tags');
  }
  return tags;
}
