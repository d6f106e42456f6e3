/**
 * Store versions are S3 ETags. The store sends versions as HTTP entity tags, so a version must
 * be visible ASCII without `"` or `\`. An ETag of that form is used bare, without its quotes.
 * Any other ETag, such as a weak one, becomes `~` followed by its base64url form.
 */
const PLAIN_VERSION = /^[!#-[\]-~]+$/;

// Characters allowed in an If-Match header value: visible ASCII and spaces.
const HEADER_VALUE = /^[ -~]+$/;

export function versionOfEtag(etag: string): string {
  const bare =
    etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
  if (PLAIN_VERSION.test(bare) && !bare.startsWith('~')) return bare;
  return `~${Buffer.from(etag, 'utf8').toString('base64url')}`;
}

/**
 * Returns the ETag to send in If-Match for a version made by versionOfEtag, or null for a
 * version that versionOfEtag cannot have made (one a client changed), which matches no object.
 */
export function etagOfVersion(version: string): string | null {
  if (!version.startsWith('~')) return PLAIN_VERSION.test(version) ? `"${version}"` : null;

  const encoded = version.slice(1);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return null;
  const etag = Buffer.from(encoded, 'base64url').toString('utf8');
  return HEADER_VALUE.test(etag) && versionOfEtag(etag) === version ? etag : null;
}
