/** Builds the URL of a search or history page from its parameters. */
export function pageUrl(base: string, path: string, params: [string, string][], extra: [string, string][] = []): string {
  const query = new URLSearchParams([...params, ...extra]).toString();
  return `${base}${path ? `/${path}` : ''}${query ? `?${query}` : ''}`;
}
