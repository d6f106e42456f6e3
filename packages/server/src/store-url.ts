// Query parameters whose value may be a credential, in the URLs of the stores smtpq supports.
const SECRET_PARAMETER = /secret|password|passwd|token|credential|key|signature/i;

/** The user name and password of a URL, after its `//`. */
const USERINFO = /(\/\/)[^/?#@]*@/g;

/**
 * Returns a store URL fit for logs: user names and passwords replaced by `***`, in the URL and in
 * query values that are URLs themselves (such as an S3 endpoint), and credential-like query values
 * replaced by `***`. A value that does not parse as a URL (a MongoDB URL with several hosts) gets
 * only its user name and password replaced.
 */
export function redactStoreUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return redactUserinfo(value);
  }

  if (url.username !== '' || url.password !== '') {
    url.username = '***';
    url.password = '';
  }
  for (const [name, parameter] of [...url.searchParams]) {
    if (SECRET_PARAMETER.test(name)) {
      url.searchParams.set(name, '***');
    } else if (redactUserinfo(parameter) !== parameter) {
      url.searchParams.set(name, redactUserinfo(parameter));
    }
  }
  return url.toString();
}

function redactUserinfo(value: string): string {
  return value.replace(USERINFO, '$1***@');
}
