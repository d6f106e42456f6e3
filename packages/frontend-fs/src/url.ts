import { resolve } from 'node:path';

const EXPECTED_FORMS =
  'expected fs:///absolute/path or fs://./relative/path (relative to the working directory)';

/**
 * Returns the folder named by an fs store URL: `fs:///var/lib/smtpq` is /var/lib/smtpq and
 * `fs://./var` is ./var resolved against the working directory. Percent-escapes are decoded.
 * Throws an Error naming the URL and the expected forms for anything else.
 */
export function parseFsStoreUrl(url: string): string {
  const match = /^fs:\/\/(\/.*|\.(?:\/.*)?)$/i.exec(url);
  if (match === null || /[?#]/.test(url)) {
    throw new Error(`invalid fs store URL ${JSON.stringify(url)}: ${EXPECTED_FORMS}`);
  }

  let path: string;
  try {
    path = decodeURIComponent(match[1] ?? '');
  } catch {
    throw new Error(`invalid fs store URL ${JSON.stringify(url)}: malformed percent-escape`);
  }
  if (path.includes('\0')) {
    throw new Error(`invalid fs store URL ${JSON.stringify(url)}: the path contains a NUL byte`);
  }
  return resolve(path);
}
