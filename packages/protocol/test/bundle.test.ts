import { describe, expect, it } from 'vitest';
import {
  BundleReader,
  type BundleReaderOptions,
  encodeBundle,
  encodeBundleHead,
  readBundleEnvelopes,
} from '../src/bundle.js';
import { QueueError } from '../src/errors.js';

const MSGID = '0a1b2c3d';
const EVPID_1 = '0a1b2c3d00000001';
const EVPID_2 = '0a1b2c3d00000002';

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < data.length; start += size) {
    yield data.subarray(start, start + size);
  }
}

async function* pieces(...parts: Array<string | Buffer>): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part);
}

async function decode(
  source: AsyncIterable<Uint8Array>,
  options: Partial<BundleReaderOptions> = {},
): Promise<{ envelopes: Array<{ evpid: string; data: string }>; body: Buffer }> {
  const reader = new BundleReader(source, { msgid: MSGID, ...options });
  const envelopes = await readBundleEnvelopes(reader);
  const body: Buffer[] = [];
  for await (const chunk of reader.body()) body.push(Buffer.from(chunk));
  return {
    envelopes: envelopes.map((e) => ({ evpid: e.evpid, data: Buffer.from(e.data).toString() })),
    body: Buffer.concat(body),
  };
}

async function decodeError(
  source: AsyncIterable<Uint8Array>,
  options: Partial<BundleReaderOptions> = {},
): Promise<QueueError> {
  try {
    await decode(source, options);
  } catch (error) {
    expect(error).toBeInstanceOf(QueueError);
    return error as QueueError;
  }
  throw new Error('the bundle was decoded without an error');
}

const sample = encodeBundle(
  [
    { evpid: EVPID_1, data: Buffer.from('version: 3\nrcpt: a@example.org\n') },
    { evpid: EVPID_2, data: Buffer.from('version: 3\nrcpt: b@example.org\n') },
  ],
  Buffer.from('Subject: hi\r\n\r\nbody\r\n'),
);

describe('encodeBundleHead', () => {
  it('writes magic, E records and B line', () => {
    const head = encodeBundleHead([{ evpid: EVPID_1, data: Buffer.from('abc') }], 42);
    expect(head.toString()).toBe(`smtpq-bundle 1\nE ${EVPID_1} 3\nabc\nB 42\n`);
  });

  it('writes a head without envelopes', () => {
    expect(encodeBundleHead([], 0).toString()).toBe('smtpq-bundle 1\nB 0\n');
  });
});

describe('BundleReader', () => {
  it('decodes envelopes and body from one chunk', async () => {
    const decoded = await decode(pieces(sample));
    expect(decoded.envelopes).toEqual([
      { evpid: EVPID_1, data: 'version: 3\nrcpt: a@example.org\n' },
      { evpid: EVPID_2, data: 'version: 3\nrcpt: b@example.org\n' },
    ]);
    expect(decoded.body.toString()).toBe('Subject: hi\r\n\r\nbody\r\n');
  });

  it('decodes the same bundle split at every chunk size', async () => {
    const expected = await decode(pieces(sample));
    for (let size = 1; size <= sample.length; size++) {
      expect(await decode(chunksOf(sample, size))).toEqual(expected);
    }
  });

  it('decodes a header line split across chunks', async () => {
    const decoded = await decode(
      pieces('smtpq-bun', 'dle 1\nE 0a1b2c3d', '00000001 3\nx', 'y', 'z\nB', ' 2\nok'),
    );
    expect(decoded.envelopes).toEqual([{ evpid: EVPID_1, data: 'xyz' }]);
    expect(decoded.body.toString()).toBe('ok');
  });

  it('decodes a bundle without envelopes and an empty body', async () => {
    const decoded = await decode(pieces('smtpq-bundle 1\nB 0\n'));
    expect(decoded.envelopes).toEqual([]);
    expect(decoded.body.length).toBe(0);
  });

  it('records the body length once the envelopes are read', async () => {
    const reader = new BundleReader(pieces(sample), { msgid: MSGID });
    await readBundleEnvelopes(reader);
    expect(reader.bodyLength).toBe(Buffer.byteLength('Subject: hi\r\n\r\nbody\r\n'));
  });

  it('streams the body without reading ahead of the consumer', async () => {
    const head = encodeBundleHead([], 3 * 1024);
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      yield head;
      for (let i = 0; i < 3; i++) {
        pulled++;
        yield Buffer.alloc(1024, i);
      }
    }

    const reader = new BundleReader(source(), { msgid: MSGID });
    await readBundleEnvelopes(reader);
    const body = reader.body();
    const first = await body.next();
    expect(first.value?.length).toBe(1024);
    expect(pulled).toBe(1);
    await body.return(undefined);
  });

  const malformed: Array<[string, string | Buffer, number, RegExp]> = [
    ['a wrong magic line', 'smtpq-bundle 2\nB 0\n', 0, /smtpq-bundle 1/],
    ['an empty bundle', '', 0, /smtpq-bundle 1/],
    ['an unknown record', 'smtpq-bundle 1\nX 1\n', 15, /E <evpid> <length>/],
    ['a missing B line', `smtpq-bundle 1\nE ${EVPID_1} 1\na\n`, 38, /not the end/],
    ['an upper-case evpid', 'smtpq-bundle 1\nE 0A1B2C3D00000001 1\na\nB 0\n', 17, /hex/],
    [
      'an evpid of another message',
      'smtpq-bundle 1\nE 1111111100000001 1\na\nB 0\n',
      17,
      /0a1b2c3d/,
    ],
    ['an evpid twice', `smtpq-bundle 1\nE ${EVPID_1} 1\na\nE ${EVPID_1} 1\nb\nB 0\n`, 40, /twice/],
    ['a length with a sign', `smtpq-bundle 1\nE ${EVPID_1} +1\na\nB 0\n`, 34, /decimal/],
    ['a length with leading zeros', 'smtpq-bundle 1\nB 01\nx', 17, /leading zeros/],
    ['an envelope without its newline', `smtpq-bundle 1\nE ${EVPID_1} 1\nab\nB 0\n`, 37, /newline/],
    ['a short envelope', `smtpq-bundle 1\nE ${EVPID_1} 5\nab`, 38, /5 bytes of envelope/],
    ['a short body', 'smtpq-bundle 1\nB 5\nabc', 22, /2 more body bytes/],
    ['bytes after the body', 'smtpq-bundle 1\nB 2\nabc', 21, /end of the bundle/],
    ['an overlong line', `smtpq-bundle 1\nE ${'0'.repeat(80)}`, 15, /at most 64 bytes/],
  ];

  for (const [name, input, offset, expected] of malformed) {
    it(`rejects ${name} as invalid-bundle at byte ${offset}`, async () => {
      const error = await decodeError(pieces(input));
      expect(error.code).toBe('invalid-bundle');
      expect(error.status).toBe(400);
      expect(error.details?.offset).toBe(offset);
      expect(error.message).toMatch(`at byte ${offset}:`);
      expect(error.message).toMatch(expected);
    });
  }

  it('reports offsets of byte-sized chunks', async () => {
    const input = Buffer.from(`smtpq-bundle 1\nE ${EVPID_1} 1\na\nE ${EVPID_1} 1\nb\nB 0\n`);
    const error = await decodeError(chunksOf(input, 1));
    expect(error.details?.offset).toBe(40);
  });

  it('accepts an envelope of exactly the limit', async () => {
    const data = Buffer.alloc(16, 'e');
    const decoded = await decode(
      pieces(encodeBundle([{ evpid: EVPID_1, data }], Buffer.from(''))),
      {
        maxEnvelopeBytes: 16,
      },
    );
    expect(decoded.envelopes[0]?.data).toBe(data.toString());
  });

  it('rejects an envelope over the limit as envelope-too-large', async () => {
    const data = Buffer.alloc(17, 'e');
    const error = await decodeError(
      pieces(encodeBundle([{ evpid: EVPID_1, data }], Buffer.from(''))),
      { maxEnvelopeBytes: 16 },
    );
    expect(error.code).toBe('envelope-too-large');
    expect(error.status).toBe(413);
    expect(error.details?.limit).toBe(16);
    expect(error.message).toMatch('17 bytes exceeds the limit of 16 bytes');
  });

  it('rejects a body over the limit before reading it', async () => {
    const error = await decodeError(pieces('smtpq-bundle 1\nB 11\n'), { maxBodyBytes: 10 });
    expect(error.code).toBe('body-too-large');
    expect(error.status).toBe(413);
    expect(error.details?.limit).toBe(10);
  });

  it('rejects more envelopes than the limit', async () => {
    const envelopes = [
      { evpid: EVPID_1, data: Buffer.from('a') },
      { evpid: EVPID_2, data: Buffer.from('b') },
    ];
    const error = await decodeError(pieces(encodeBundle(envelopes, Buffer.from(''))), {
      maxBundleEnvelopes: 1,
    });
    expect(error.code).toBe('invalid-bundle');
    expect(error.details?.limit).toBe(1);
    expect(error.message).toMatch('at most 1 envelopes');
  });

  it('passes an error of the source through', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('smtpq-bundle 1\nB 10\nabc');
      throw new QueueError('incomplete-body', 'the request ended early');
    }
    const error = await decodeError(failing());
    expect(error.code).toBe('incomplete-body');
  });

  it('refuses body() before the envelopes are read', async () => {
    const reader = new BundleReader(pieces(sample), { msgid: MSGID });
    await expect(reader.body().next()).rejects.toThrow(/envelopes\(\) read to its end/);
  });
});
