// Query parameters whose value may be a credential, in the URLs of the stores smtpq supports.
const SECRET_PARAMETER = /secret|password|passwd|token|credential|key|signature/i;

/**
 * Returns a store URL fit for logs: without user name and password, and with credential-like
 * query values replaced by `***`. A value that does not parse as a URL is returned as it is.
 */
export function redactStoreUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }

  url.username = '';
  url.password = '';
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAMETER.test(name)) url.searchParams.set(name, '***');
  }
  return url.toString();
}
