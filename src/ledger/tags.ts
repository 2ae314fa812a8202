/**
 * A request's spend tags as the `requests.tags` column holds them on every engine: a JSON array of
 * strings (`["search","team:growth"]`), or NULL when it has none.
 */
export function tagsText(tags: readonly string[] | null | undefined): string | null {
  return tags && tags.length > 0 ? JSON.stringify(tags) : null;
}

/** The tags of a `requests.tags` value (see `tagsText`): the JSON array's strings, or none for NULL. */
export function tagsOf(text: string | null | undefined): string[] {
  if (text === null || text === undefined || text === '') return [];
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
}
