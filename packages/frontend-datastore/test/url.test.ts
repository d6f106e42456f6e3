import { describe, expect, it } from 'vitest';
import { parseDatastoreStoreUrl } from '../src/index.js';

describe('parseDatastoreStoreUrl', () => {
  const valid: Array<[string, object]> = [
    ['datastore://my-project', { projectId: 'my-project', databaseId: '', namespace: '' }],
    ['datastore://my-project/', { projectId: 'my-project', databaseId: '', namespace: '' }],
    [
      'datastore://my-project/smtpq',
      { projectId: 'my-project', databaseId: '', namespace: 'smtpq' },
    ],
    [
      'datastore://my-project/Mail.Queue-1_a',
      { projectId: 'my-project', databaseId: '', namespace: 'Mail.Queue-1_a' },
    ],
    [
      'datastore://my-project/smtpq?database=mail-db',
      { projectId: 'my-project', databaseId: 'mail-db', namespace: 'smtpq' },
    ],
  ];
  for (const [url, target] of valid) {
    it(`parses ${url}`, () => {
      expect(parseDatastoreStoreUrl(url)).toEqual(target);
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['datastore://', /project id ""/],
    ['datastore://My-Project/x', /project id "My-Project"/],
    ['datastore://abc/x', /project id "abc"/],
    ['datastore://my-project/a/b', /expected datastore:\/\/PROJECT/],
    ['datastore://my-project/__ns__', /namespace "__ns__"/],
    ['datastore://my-project/has space', /namespace "has space"/],
    ['datastore://my-project/x?region=eu', /unknown parameter "region"/],
    ['datastore://my-project/x?database=DB', /database id "DB"/],
    ['s3://bucket/prefix', /expected datastore:\/\/PROJECT/],
  ];
  for (const [url, message] of invalid) {
    it(`rejects ${url}`, () => {
      expect(() => parseDatastoreStoreUrl(url)).toThrow(message);
    });
  }

  it('names the URL in the error', () => {
    expect(() => parseDatastoreStoreUrl('datastore://x')).toThrow(
      'invalid datastore store URL "datastore://x"',
    );
  });
});
