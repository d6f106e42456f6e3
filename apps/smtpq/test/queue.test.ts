import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeText, runSmtpq, startTestFrontend, type TestFrontend } from './queue-frontend.js';

// smtpd's envelope buffer in Debian's 6.8.0p2 build: queue-rest rejects anything longer.
const OVERSIZE = Buffer.alloc(8000, 'x');
const BINARY = Buffer.alloc(300, 0xff);
const BODY = Buffer.from('Subject: queue ls\r\n\r\nbody\r\n');

let front: TestFrontend;

beforeAll(async () => {
  front = await startTestFrontend();
  await front.client.messageBundle(
    '0000abcd',
    [
      { evpid: '0000abcd00000001', data: envelopeText('alice@example.org') },
      { evpid: '0000abcd00000002', data: BINARY },
      { evpid: '0000abcd00000003', data: OVERSIZE },
    ],
    BODY,
  );
  await front.client.messageBundle(
    '0000ef01',
    [{ evpid: '0000ef0100000001', data: envelopeText('bob@example.org') }],
    BODY,
  );
  await front.client.messageCreate({ msgid: '0000beef' });
  await front.client.envelopeCreate('0000beef', envelopeText('open@example.org'), {
    evpid: '0000beef00000001',
  });
});

afterAll(async () => {
  await front.close();
});

function lines(text: Buffer | string): string[] {
  return text.toString().trimEnd().split('\n');
}

describe('smtpq queue ls', () => {
  it('lists each message with state, body size and envelope counts', async () => {
    const run = await runSmtpq(['queue', 'ls', '--url', front.url]);

    expect(run.code, run.stderr).toBe(0);
    const [header, ...rows] = lines(run.stdout);
    expect(header).toMatch(/^MSGID +STATE +AGE +BODY +ENVELOPES +NOTE$/);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^0000abcd +committed +\d+s +27 +3 +2 rejected by queue-rest$/);
    expect(rows[1]).toMatch(/^0000beef +open +\d+s +- +1$/);
    expect(rows[2]).toMatch(/^0000ef01 +committed +\d+s +27 +1$/);
  });

  it('prints the same facts as JSON', async () => {
    const run = await runSmtpq(['queue', 'ls', '--url', front.url, '--json']);

    expect(run.code, run.stderr).toBe(0);
    const listed = JSON.parse(run.stdout.toString()) as Array<Record<string, unknown>>;
    expect(listed.map((message) => message.msgid)).toEqual(['0000abcd', '0000beef', '0000ef01']);
    expect(listed[0]).toMatchObject({
      state: 'committed',
      bodySize: BODY.length,
      envelopes: 3,
      rejected: 2,
    });
    expect(listed[1]).toMatchObject({ state: 'open', bodySize: null, envelopes: 1, rejected: 0 });
  });

  it('marks rejected envelopes with the reason', async () => {
    const run = await runSmtpq(['queue', 'ls', '0000abcd', '--url', front.url]);

    expect(run.code, run.stderr).toBe(0);
    const [title, header, ...rows] = lines(run.stdout);
    expect(title).toMatch(
      /^message 0000abcd: committed, created \S+Z \(\d+s ago\), body 27 bytes, 3 envelopes$/,
    );
    expect(header).toMatch(/^EVPID +BYTES +RECIPIENT +NOTE$/);
    expect(rows[0]).toMatch(/^0000abcd00000001 +\d+ +alice@example\.org$/);
    expect(rows[1]).toMatch(
      /^0000abcd00000002 +300 +- +rejected by queue-rest: the envelope is not UTF-8 text$/,
    );
    expect(rows[2]).toMatch(
      /^0000abcd00000003 +8000 +- +rejected by queue-rest: the envelope has 8000 bytes, more than smtpd's envelope buffer of 7568 bytes$/,
    );
  });

  it('lists the envelopes of an open message', async () => {
    const run = await runSmtpq(['queue', 'ls', '0000beef', '--url', front.url]);

    expect(run.code, run.stderr).toBe(0);
    const output = lines(run.stdout);
    expect(output[0]).toMatch(/^message 0000beef: open, .*, no body yet, 1 envelope$/);
    expect(output[2]).toMatch(/^0000beef00000001 +\d+ +open@example\.org$/);
  });

  it('with --no-text-envelopes rejects only the oversize one', async () => {
    const run = await runSmtpq([
      'queue',
      'ls',
      '0000abcd',
      '--url',
      front.url,
      '--json',
      '--no-text-envelopes',
    ]);

    expect(run.code, run.stderr).toBe(0);
    const { envelopes } = JSON.parse(run.stdout.toString()) as {
      envelopes: Array<{ evpid: string; rejected: string | null }>;
    };
    expect(envelopes.map((envelope) => envelope.rejected === null)).toEqual([true, true, false]);
  });

  it('reports a message that does not exist', async () => {
    const run = await runSmtpq(['queue', 'ls', '0000aaaa', '--url', front.url]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: message 0000aaaa not found in the frontend at ${front.url}\n`);
    expect(run.stdout.length).toBe(0);
  });
});

describe('smtpq queue show', () => {
  it('prints the bytes of a binary envelope exactly, with its ETag', async () => {
    const stored = await front.client.envelopeGet('0000abcd00000002');

    const run = await runSmtpq(['queue', 'show', '0000abcd00000002', '--url', front.url]);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.equals(BINARY)).toBe(true);
    expect(lines(run.stderr)).toEqual([
      `envelope 0000abcd00000002: 300 bytes, ETag ${stored.etag}`,
      'queue-rest rejects this envelope and never hands it to smtpd: the envelope is not UTF-8 text',
    ]);
  });

  it('prints a text envelope with no rejection', async () => {
    const run = await runSmtpq(['queue', 'show', '0000ef0100000001', '--url', front.url]);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.equals(envelopeText('bob@example.org'))).toBe(true);
    expect(lines(run.stderr)).toHaveLength(1);
  });

  it('prints JSON with the bytes in base64', async () => {
    const run = await runSmtpq(['queue', 'show', '0000abcd00000003', '--url', front.url, '--json']);

    expect(run.code, run.stderr).toBe(0);
    const shown = JSON.parse(run.stdout.toString()) as Record<string, unknown>;
    expect(Buffer.from(shown.data as string, 'base64').equals(OVERSIZE)).toBe(true);
    expect(shown.bytes).toBe(8000);
    expect(shown.rejected).toMatch(/more than smtpd's envelope buffer/);
    expect(typeof shown.etag).toBe('string');
  });

  it('reports an envelope that does not exist', async () => {
    const run = await runSmtpq(['queue', 'show', '0000abcd00000009', '--url', front.url]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: envelope 0000abcd00000009 not found in the frontend at ${front.url}\n`,
    );
  });
});

describe('smtpq queue errors', () => {
  const badIds: Array<[string[], RegExp]> = [
    [['ls', '0000ABCD'], /"0000ABCD" is not a msgid; a msgid is 8 lower-case hex digits/],
    [['ls', '00000000'], /"00000000" is not a msgid/],
    [['ls', '0000abcd00000001'], /0000abcd00000001 is an evpid; give the msgid of its message/],
    [['show', '0000abcd'], /"0000abcd" is not an evpid; an evpid is 16 lower-case hex digits/],
    [['show', '0000abcd00000000'], /"0000abcd00000000" is not an evpid/],
  ];
  for (const [args, message] of badIds) {
    it(`rejects a bad id: ${args.join(' ')}`, async () => {
      const run = await runSmtpq(['queue', ...args, '--url', front.url]);

      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stdout.length).toBe(0);
    });
  }

  it('reports an unreachable frontend in one line', async () => {
    // Nothing listens on port 9 of loopback.
    const run = await runSmtpq(['queue', 'ls', '--url', 'http://127.0.0.1:9']);

    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr.trimEnd()).toMatch(
      /^error: cannot reach the frontend at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED.*; check --url and that the frontend runs$/,
    );
  });

  it('rejects a URL that is not http', async () => {
    const run = await runSmtpq(['queue', 'ls', '--url', 'ftp://127.0.0.1']);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ftp:\/\/127\.0\.0\.1 must start with http:\/\/ or https:\/\//);
  });

  it('uses the token of --token-file', async () => {
    const guarded = await startTestFrontend({ token: 'queue-ls-token' });
    const folder = await mkdtemp(path.join(tmpdir(), 'smtpq-token-'));
    const tokenFile = path.join(folder, 'token');
    await writeFile(tokenFile, 'queue-ls-token\n');
    try {
      const without = await runSmtpq(['queue', 'ls', '--url', guarded.url]);
      expect(without.code).toBe(1);
      expect(without.stderr).toMatch(
        /requires a valid token \(401 unauthorized\); pass --token-file with the token/,
      );

      const withToken = await runSmtpq([
        'queue',
        'ls',
        '--url',
        guarded.url,
        '--token-file',
        tokenFile,
      ]);
      expect(withToken.code, withToken.stderr).toBe(0);
      expect(lines(withToken.stdout)).toEqual(['MSGID  STATE  AGE  BODY  ENVELOPES  NOTE']);

      const missing = await runSmtpq([
        'queue',
        'ls',
        '--url',
        guarded.url,
        '--token-file',
        `${tokenFile}.absent`,
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^error: --token-file \S+\.absent cannot be read: ENOENT/);
    } finally {
      await guarded.close();
    }
  });
});
