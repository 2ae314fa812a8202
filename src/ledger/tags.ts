/**
 * A request's spend tags as the `requests.tags` column holds them on every engine: a JSON array of
 * strings (`["search","team:growth"]`), or NULL when it has none.
 */
export function tagsText(tags: readonly string[] | null | undefined): string | null {
  return tags && tags.length > 0 ? JSON.stringify(tags) : null;
}
