/**
 * Store versions travel as strong HTTP entity tags (RFC 9110 8.8.3): the version in double
 * quotes. Drivers make versions of visible ASCII without quotes or backslashes.
 */
export function etagOf(version: string): string {
  return `"${version}"`;
}

/** Returns the version inside an entity tag; a bare value is taken as the version itself. */
export function versionOf(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}
