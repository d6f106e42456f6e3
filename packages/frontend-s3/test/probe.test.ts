import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openS3Driver, openS3Store, S3ConfigError } from '../src/index.js';
import { type FaultProxy, FORWARD, faultProxyStart } from './helpers/fault-proxy.js';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { RawS3 } from './helpers/raw-s3.js';
import { TEST_ENVIRONMENT } from './helpers/s3-env.js';
import { freshPrefix, memoryLogger } from './helpers/s3-store.js';

const BUCKET = 'smtpq-probe';

const ACCESS_DENIED_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>' +
  '<Message>Access Denied</Message><RequestId>fault-proxy</RequestId></Error>';

let moto: MotoServer;
let proxy: FaultProxy;
let raw: RawS3;

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
  proxy = await faultProxyStart(moto.endpoint);
  raw = new RawS3(moto.endpoint, BUCKET);
});

afterAll(async () => {
  raw?.close();
  await proxy?.close();
  await moto?.stop();
});

/** Returns the error an open ends with; fails the test when the open succeeds. */
async function openError(open: Promise<{ close(): Promise<void> }>): Promise<Error> {
  const outcome = await open.then(
    async (opened) => {
      await opened.close();
      return null;
    },
    (error: Error) => error,
  );
  if (outcome === null) throw new Error('the open succeeded; expected it to fail');
  return outcome;
}

/** Lists the local addresses of sockets listening on `port`, from /proc/net/tcp and tcp6. */
async function listeningAddresses(port: number): Promise<string[]> {
  const addresses: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const table = await readFile(file, 'utf8').catch(() => '');
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [address, portHex] = (fields[1] ?? '').split(':');
      // State 0A is LISTEN.
      if (fields[3] === '0A' && Number.parseInt(portHex ?? '', 16) === port) {
        addresses.push(address ?? '');
      }
    }
  }
  return addresses;
}

describe('s3 server probe', () => {
  it('moto listens on 127.0.0.1 only', async () => {
    // 0100007F is 127.0.0.1 in the kernel's little-endian hex.
    expect(await listeningAddresses(moto.port)).toEqual(['0100007F']);
  });

  it('server without conditional writes is rejected', async () => {
    proxy.plan(() => ({ action: 'forward', stripHeaders: ['if-none-match', 'if-match'] }));
    const prefix = freshPrefix('strip');

    const error = await openError(
      openS3Driver({ bucket: BUCKET, prefix, endpoint: proxy.endpoint, logger: memoryLogger() }),
    );

    expect(error).toBeInstanceOf(S3ConfigError);
    expect(error.message).toContain(`the S3 server at ${proxy.endpoint} does not honour`);
    expect(error.message).toContain('If-None-Match on PutObject and If-Match on PutObject');
    expect(error.message).toContain('singleWriter=true');
    expect(error.message).not.toContain(TEST_ENVIRONMENT.AWS_SECRET_ACCESS_KEY);
    expect(await raw.objects(prefix)).toEqual([]);
  });

  it('store URL without singleWriter is rejected', async () => {
    proxy.plan(() => ({ action: 'forward', stripHeaders: ['if-none-match', 'if-match'] }));
    const url = `s3://${BUCKET}/${freshPrefix('url')}?endpoint=${proxy.endpoint}`;

    const error = await openError(openS3Store(url, { logger: memoryLogger() }));

    expect(error.message).toContain('does not honour If-None-Match on PutObject');
  });

  it('singleWriter starts and emulates the conditions', async () => {
    proxy.plan(() => ({ action: 'forward', stripHeaders: ['if-none-match', 'if-match'] }));
    const logger = memoryLogger();
    const prefix = freshPrefix('single');
    const driver = await openS3Driver({
      bucket: BUCKET,
      prefix,
      endpoint: proxy.endpoint,
      singleWriter: true,
      logger,
    });

    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => driver.create('t/race', Buffer.from(`w${i}`))),
      );
      const v1 = results.find((version) => version !== null) as string;
      const replaces = await Promise.all(
        ['a', 'b', 'c'].map((value) => driver.replace('t/race', Buffer.from(value), v1)),
      );
      const current = (await driver.get('t/race'))?.version as string;

      expect(results.filter((version) => version !== null)).toHaveLength(1);
      expect(replaces.filter((result) => result !== 'mismatch')).toHaveLength(1);
      expect(await driver.delete('t/race', v1)).toBe('mismatch');
      expect(await driver.delete('t/race', current)).toBe('deleted');
      expect(await driver.replace('t/race', Buffer.from('x'), current)).toBe('missing');
    } finally {
      await driver.close();
    }

    const log = logger.lines.join('\n');
    expect(log).toContain('with singleWriter this process emulates conditional writes');
    expect(log).toContain(`exactly one frontend process may use s3://${BUCKET}/${prefix}`);
  });

  it('singleWriter in the store URL starts a queue store', async () => {
    proxy.plan(() => ({ action: 'forward', stripHeaders: ['if-none-match', 'if-match'] }));
    const url = `s3://${BUCKET}/${freshPrefix('url')}?endpoint=${proxy.endpoint}&singleWriter=true`;

    const store = await openS3Store(url, { logger: memoryLogger() });
    try {
      await store.messageCreate({ msgid: '0000abcd' });
      expect((await store.messageInfo('0000abcd')).state).toBe('open');
    } finally {
      await store.close();
    }
  });

  it('probe object is removed after a successful probe', async () => {
    proxy.plan(() => FORWARD);
    const prefix = freshPrefix('clean');
    const driver = await openS3Driver({
      bucket: BUCKET,
      prefix,
      endpoint: proxy.endpoint,
      logger: memoryLogger(),
    });
    await driver.close();

    expect(await raw.objects(prefix)).toEqual([]);
  });
});

describe('s3 startup configuration errors', () => {
  it('missing bucket names the bucket and the fix', async () => {
    proxy.plan(() => FORWARD);

    const error = await openError(
      openS3Driver({ bucket: 'smtpq-absent', endpoint: moto.endpoint, logger: memoryLogger() }),
    );

    expect(error).toBeInstanceOf(S3ConfigError);
    expect(error.message).toBe(
      `bucket smtpq-absent does not exist at ${moto.endpoint}; create it, or correct the ` +
        'bucket in the store URL',
    );
  });

  it('denied bucket access names the permission', async () => {
    proxy.plan(() => ({ action: 'respond', status: 403, body: ACCESS_DENIED_BODY }));

    const error = await openError(
      openS3Driver({ bucket: BUCKET, endpoint: proxy.endpoint, logger: memoryLogger() }),
    );

    expect(error).toBeInstanceOf(S3ConfigError);
    expect(error.message).toContain(`access to bucket ${BUCKET} at ${proxy.endpoint} was denied`);
    expect(error.message).toContain('s3:ListBucket');
  });

  it('denied writes name the permissions', async () => {
    proxy.plan((request) =>
      request.method === 'PUT'
        ? { action: 'respond', status: 403, body: ACCESS_DENIED_BODY }
        : FORWARD,
    );
    const prefix = freshPrefix('denied');

    const error = await openError(
      openS3Driver({ bucket: BUCKET, prefix, endpoint: proxy.endpoint, logger: memoryLogger() }),
    );

    expect(error).toBeInstanceOf(S3ConfigError);
    expect(error.message).toContain(
      `s3:GetObject, s3:PutObject and s3:DeleteObject on ${BUCKET}/${prefix}*`,
    );
  });
});
