import { describe, expect, it } from 'vitest';
import { redactStoreUrl } from '../src/store-url.js';

describe('redactStoreUrl', () => {
  it('hides the password of the store URL', () => {
    const redacted = redactStoreUrl('mongodb://queue:hunter2@127.0.0.1:27017/smtpq');
    expect(redacted).not.toContain('hunter2');
    expect(redacted).toBe('mongodb://***@127.0.0.1:27017/smtpq');
  });

  it('hides the password of a URL in a query value', () => {
    const redacted = redactStoreUrl(
      's3://bucket/queue?endpoint=http://user:hunter2@127.0.0.1:5000',
    );
    expect(redacted).not.toContain('hunter2');
    expect(redacted).not.toContain('user');
    expect(new URL(redacted).searchParams.get('endpoint')).toBe('http://***@127.0.0.1:5000');
  });

  it('hides the password of a URL with several hosts', () => {
    const redacted = redactStoreUrl('mongodb://queue:hunter2@10.0.0.1:27017,10.0.0.2:27017/smtpq');
    expect(redacted).not.toContain('hunter2');
    expect(redacted).toBe('mongodb://***@10.0.0.1:27017,10.0.0.2:27017/smtpq');
  });

  it('hides credential-like query values', () => {
    const redacted = redactStoreUrl('s3://bucket/queue?secretKey=hunter2&region=eu-west-1');
    expect(redacted).not.toContain('hunter2');
    expect(new URL(redacted).searchParams.get('region')).toBe('eu-west-1');
  });

  it('keeps a URL without credentials', () => {
    expect(redactStoreUrl('fs:///var/lib/smtpq')).toBe('fs:///var/lib/smtpq');
  });
});
