/** The parts of an `s3://` store URL. */
export interface S3StoreUrl {
  bucket: string;
  /** Key prefix of the store inside the bucket: empty, or ending with `/`. */
  prefix: string;
  /** Endpoint of an S3-compatible server, such as `http://127.0.0.1:9000`; AWS when absent. */
  endpoint?: string;
  /** Region; when absent it comes from the AWS configuration chain. */
  region?: string;
  /** Path-style requests (`ENDPOINT/BUCKET/KEY`) instead of virtual-host style. */
  pathStyle: boolean;
  /** Emulate conditional writes in this process when the server lacks them. */
  singleWriter: boolean;
}

const EXPECTED_FORM = 'expected s3://BUCKET/PREFIX?endpoint=URL&region=R&pathStyle=true|false';

const PARAMETERS = ['endpoint', 'region', 'pathStyle', 'singleWriter'] as const;

// S3 bucket naming rules: 3 to 63 lower-case letters, digits, dots and hyphens.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const REGION_NAME = /^[a-z0-9][a-z0-9-]*$/;

// S3 keys are at most 1024 bytes; the store's own keys below the prefix need about 60.
const MAX_PREFIX_BYTES = 900;

/**
 * Parses `s3://BUCKET/PREFIX?endpoint=URL&region=R&pathStyle=true|false&singleWriter=true`.
 * The prefix and the parameter values are percent-decoded, and `+` stays a literal plus.
 * Path-style requests are the default when an endpoint is given. Throws an Error naming the
 * URL and what to change.
 */
export function parseS3StoreUrl(url: string): S3StoreUrl {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(url);
  if (match === null) throw invalidUrl(url, EXPECTED_FORM);

  const bucket = match[1] ?? '';
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw invalidUrl(
      url,
      `bucket ${JSON.stringify(bucket)} is not a valid S3 bucket name (3 to 63 lower-case ` +
        'letters, digits, dots and hyphens, starting and ending with a letter or digit)',
    );
  }

  const prefix = prefixOf(url, match[2] ?? '');
  const parameters = parametersOf(url, match[3] ?? '');

  const endpoint = parameters.get('endpoint');
  if (endpoint !== undefined) endpointCheck(url, endpoint);

  const region = parameters.get('region');
  if (region !== undefined && !REGION_NAME.test(region)) {
    throw invalidUrl(url, `region ${JSON.stringify(region)} is not a region name like eu-west-1`);
  }

  return {
    bucket,
    prefix,
    endpoint,
    region,
    pathStyle: booleanParameter(url, parameters, 'pathStyle', endpoint !== undefined),
    singleWriter: booleanParameter(url, parameters, 'singleWriter', false),
  };
}

function prefixOf(url: string, path: string): string {
  let prefix: string;
  try {
    prefix = decodeURIComponent(path.slice(1));
  } catch {
    throw invalidUrl(url, 'the prefix has a malformed percent-escape');
  }

  if (prefix === '') return '';
  if (prefix.startsWith('/') || prefix.includes('//')) {
    throw invalidUrl(url, 'the prefix has an empty path segment; remove the doubled slash');
  }
  if (/[\u0000-\u001f\u007f]/.test(prefix)) {
    throw invalidUrl(url, 'the prefix contains a control character');
  }
  if (!prefix.endsWith('/')) prefix = `${prefix}/`;
  if (Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) {
    throw invalidUrl(url, `the prefix is longer than ${MAX_PREFIX_BYTES} bytes in UTF-8`);
  }
  return prefix;
}

function parametersOf(url: string, query: string): Map<string, string> {
  const parameters = new Map<string, string>();
  if (query === '') return parameters;

  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      throw invalidUrl(
        url,
        `unknown parameter ${JSON.stringify(name)}; the parameters are ${PARAMETERS.join(', ')}`,
      );
    }
    if (parameters.has(name)) throw invalidUrl(url, `parameter ${name} is given twice`);

    try {
      parameters.set(name, decodeURIComponent(equals < 0 ? '' : pair.slice(equals + 1)));
    } catch {
      throw invalidUrl(url, `parameter ${name} has a malformed percent-escape`);
    }
  }
  return parameters;
}

function endpointCheck(url: string, endpoint: string): void {
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw invalidUrl(url, `endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidUrl(
      url,
      `endpoint ${JSON.stringify(endpoint)} must start with http:// or https://`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // The URL itself is left out of this message so that the credentials stay out of logs.
    throw new Error(
      'invalid s3 store URL: the endpoint must not contain credentials; give them through ' +
        'the AWS environment variables or a shared credentials file',
    );
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw invalidUrl(url, `endpoint ${JSON.stringify(endpoint)} must not have a query or fragment`);
  }
}

function booleanParameter(
  url: string,
  parameters: Map<string, string>,
  name: string,
  fallback: boolean,
): boolean {
  const value = parameters.get(name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidUrl(url, `parameter ${name} is ${JSON.stringify(value)}; use true or false`);
}

function invalidUrl(url: string, reason: string): Error {
  return new Error(`invalid s3 store URL ${JSON.stringify(url)}: ${reason}`);
}
