import { describe, expect, it } from 'vitest';
import { parseS3StoreUrl } from '../src/index.js';
import { etagOfVersion, versionOfEtag } from '../src/versions.js';

describe('s3 store URL', () => {
  const valid: Array<[string, ReturnType<typeof parseS3StoreUrl>]> = [
    [
      's3://mail-queue',
      { bucket: 'mail-queue', prefix: '', pathStyle: false, singleWriter: false },
    ],
    [
      's3://mail-queue/mx/queue?region=eu-west-1',
      {
        bucket: 'mail-queue',
        prefix: 'mx/queue/',
        region: 'eu-west-1',
        pathStyle: false,
        singleWriter: false,
      },
    ],
    [
      's3://mail.queue/q/?endpoint=http://127.0.0.1:9000&singleWriter=true',
      {
        bucket: 'mail.queue',
        prefix: 'q/',
        endpoint: 'http://127.0.0.1:9000',
        pathStyle: true,
        singleWriter: true,
      },
    ],
    [
      's3://mail-queue/a%20b+c%25d%C3%A9?endpoint=http%3A%2F%2F127.0.0.1%3A9000&pathStyle=false',
      {
        bucket: 'mail-queue',
        prefix: 'a b+c%dé/',
        endpoint: 'http://127.0.0.1:9000',
        pathStyle: false,
        singleWriter: false,
      },
    ],
  ];

  for (const [url, expected] of valid) {
    it(`parses ${url}`, () => {
      expect(parseS3StoreUrl(url)).toEqual({ endpoint: undefined, region: undefined, ...expected });
    });
  }

  const invalid: Array<[string, string]> = [
    ['fs:///var/lib/smtpq', 'expected s3://BUCKET/PREFIX'],
    ['s3://Mail_Queue/q', 'is not a valid S3 bucket name'],
    ['s3://ab/q', 'is not a valid S3 bucket name'],
    ['s3://mail-queue//q', 'empty path segment'],
    ['s3://mail-queue/q%zz', 'malformed percent-escape'],
    ['s3://mail-queue/q%0Ax', 'control character'],
    ['s3://mail-queue/q?endpoint=ftp://host', 'must start with http:// or https://'],
    ['s3://mail-queue/q?endpoint=not a url', 'is not a URL'],
    ['s3://mail-queue/q?region=EU WEST', 'is not a region name'],
    ['s3://mail-queue/q?pathStyle=yes', 'use true or false'],
    ['s3://mail-queue/q?singlewriter=true', 'unknown parameter "singlewriter"'],
    ['s3://mail-queue/q?region=a&region=b', 'parameter region is given twice'],
    [`s3://mail-queue/${'p'.repeat(901)}`, 'longer than 900 bytes'],
  ];

  for (const [url, message] of invalid) {
    it(`rejects ${url.slice(0, 60)}`, () => {
      expect(() => parseS3StoreUrl(url)).toThrow(message);
    });
  }

  it('rejects an endpoint with credentials without echoing them', () => {
    const url = 's3://mail-queue/q?endpoint=http://user:hunter2@127.0.0.1:9000';

    expect(() => parseS3StoreUrl(url)).toThrow('the endpoint must not contain credentials');
    expect(() => parseS3StoreUrl(url)).not.toThrow('hunter2');
  });
});

describe('s3 versions', () => {
  const etags = ['"5d41402abc4b2a76b9719d911017c592"', '"abc-2"', 'W/"weak"', '"a b"', '"~x"'];

  for (const etag of etags) {
    it(`version of ${etag} is plain ASCII and round-trips`, () => {
      const version = versionOfEtag(etag);

      expect(version).toMatch(/^[!#-[\]-~]+$/);
      expect(etagOfVersion(version)).toBe(etag);
    });
  }

  it('versions no ETag can have match nothing', () => {
    expect(etagOfVersion('a"b')).toBeNull();
    expect(etagOfVersion('~!!')).toBeNull();
    expect(etagOfVersion(`~${Buffer.from('"a\nb"').toString('base64url')}`)).toBeNull();
  });
});
