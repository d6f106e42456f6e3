import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRONTEND_FS, runProgram, SMTPQ, startServe } from './cli-helpers.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'smtpq-cli-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const OPTIONS = [
  '--store <url>',
  '--listen <host:port>',
  '--token-file <file>',
  '--max-message-bytes <bytes>',
  '--max-envelope-bytes <bytes>',
  '--uncommitted-max-age <seconds>',
  '--idle-timeout <ms>',
  '--log-level <level>',
  '--tls-cert <file>',
  '--tls-key <file>',
];

function expectOneClearLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('smtpq serve --help', () => {
  it('lists every option with its unit and default', async () => {
    const result = await runProgram(SMTPQ, ['serve', '--help']);
    expect(result.code).toBe(0);
    for (const option of OPTIONS) expect(result.stdout).toContain(option);
    const help = result.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('(default: 127.0.0.1:8025)');
    expect(help).toContain('in bytes (default: 67108864)');
    expect(help).toContain('in bytes (default: 65536)');
    expect(help).toContain('(default: 7200)');
    expect(help).toContain('(default: 30000)');
    expect(help).toContain('SMTPQ_TOKEN');
  });

  it('lists serve among the smtpq commands', async () => {
    const result = await runProgram(SMTPQ, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\s+serve /m);
  });
});

describe('smtpq serve startup errors', () => {
  it('rejects a bad fs URL', async () => {
    const result = await runProgram(SMTPQ, ['serve', '--store', 'fs://relative']);
    expect(result.code).toBe(1);
    expectOneClearLine(
      result.stderr,
      /^smtpq serve: cannot open store fs:\/\/relative: .*fs:\/\/\//,
    );
  });

  it('lists the known schemes for an unknown one', async () => {
    const result = await runProgram(SMTPQ, ['serve', '--store', 'ftp://host/queue']);
    expect(result.code).toBe(1);
    expectOneClearLine(
      result.stderr,
      /unknown store scheme "ftp:"; known schemes: fs:, s3:, mongodb:, mongodb\+srv:, datastore:$/,
    );
  });

  it('exits 1 when the store folder cannot be made', async () => {
    const file = join(folder, 'a-file');
    await writeFile(file, 'not a folder');
    const result = await runProgram(SMTPQ, ['serve', '--store', `fs://${file}/queue`]);
    expect(result.code).toBe(1);
    expectOneClearLine(result.stderr, /^smtpq serve: cannot open store .*a-file\/queue: /);
  });

  it('exits 1 when the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await runProgram(SMTPQ, [
        'serve',
        '--store',
        `fs://${join(folder, 'in-use')}`,
        '--listen',
        `127.0.0.1:${port}`,
      ]);
      expect(result.code).toBe(1);
      expectOneClearLine(
        result.stderr,
        new RegExp(`127.0.0.1:${port}: the address is already in use`),
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses a non-loopback address without a token', async () => {
    const result = await runProgram(SMTPQ, [
      'serve',
      '--store',
      `fs://${join(folder, 'open')}`,
      '--listen',
      '0.0.0.0:8025',
    ]);
    expect(result.code).toBe(1);
    expectOneClearLine(result.stderr, /0\.0\.0\.0:8025 without a token.*--token-file/);
  });

  it('rejects a malformed --listen and a non-numeric limit', async () => {
    const listen = await runProgram(SMTPQ, ['serve', '--store', 'fs:///x', '--listen', '8025']);
    expect(listen.code).toBe(1);
    expect(listen.stderr).toMatch(/expected HOST:PORT/);

    const limit = await runProgram(SMTPQ, [
      'serve',
      '--store',
      'fs:///x',
      '--max-message-bytes',
      '64M',
    ]);
    expect(limit.code).toBe(1);
    expect(limit.stderr).toMatch(/expected a positive integer, not "64M"/);
  });

  it('rejects missing token file or TLS half', async () => {
    const store = `fs://${join(folder, 'settings')}`;
    const token = await runProgram(SMTPQ, [
      'serve',
      '--store',
      store,
      '--token-file',
      join(folder, 'no-such-token'),
    ]);
    expect(token.code).toBe(1);
    expectOneClearLine(token.stderr, /^smtpq serve: cannot read --token-file .*no-such-token: /);

    const tls = await runProgram(SMTPQ, ['serve', '--store', store, '--tls-cert', 'cert.pem']);
    expect(tls.code).toBe(1);
    expectOneClearLine(tls.stderr, /--tls-cert and --tls-key go together/);
  });

  it('requires --store', async () => {
    const result = await runProgram(SMTPQ, ['serve']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--store <url>/);
  });
});

describe('smtpq serve', () => {
  it('serves an fs store and exits 0 on SIGTERM', async () => {
    const store = join(folder, 'served');
    const serve = await startServe(SMTPQ, [
      'serve',
      '--store',
      `fs://${store}`,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(serve.output.stderr).toMatch(`store fs://${store}, authentication off`);

    const info = await (await fetch(`${serve.url}/v1`)).json();
    expect(info.store).toBe('fs');
    const created = await (await fetch(`${serve.url}/v1/messages`, { method: 'POST' })).json();
    const body = 'Subject: cli\r\n\r\nhello\r\n';
    const digest = createHash('sha256').update(body).digest('base64');
    const put = await fetch(`${serve.url}/v1/messages/${created.msgid}/body`, {
      method: 'PUT',
      body,
      headers: { 'content-digest': `sha-256=:${digest}:` },
    });
    expect(put.status).toBe(204);
    const read = await fetch(`${serve.url}/v1/messages/${created.msgid}/body`);
    expect(await read.text()).toBe(body);

    const result = await serve.stop('SIGTERM');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"msg":"stopped"');
  });

  it('exits 0 on SIGINT', async () => {
    const serve = await startServe(SMTPQ, [
      'serve',
      '--store',
      `fs://${join(folder, 'interrupted')}`,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect((await serve.stop('SIGINT')).code).toBe(0);
  });

  it('applies the limits given on the command line', async () => {
    const serve = await startServe(SMTPQ, [
      'serve',
      '--store',
      `fs://${join(folder, 'limited')}`,
      '--listen',
      '127.0.0.1:0',
      '--max-message-bytes',
      '1000',
      '--max-envelope-bytes',
      '100',
      '--uncommitted-max-age',
      '60',
    ]);
    const info = await (await fetch(`${serve.url}/v1`)).json();
    expect(info.limits.maxMessageBytes).toBe(1000);
    expect(info.limits.maxEnvelopeBytes).toBe(100);
    expect(info.uncommittedMaxAgeSeconds).toBe(60);
    await serve.stop();
  });

  it('requires the token of --token-file and never prints it', async () => {
    const tokenFile = join(folder, 'token');
    await writeFile(tokenFile, 'file-token-1234\n');
    const serve = await startServe(SMTPQ, [
      'serve',
      '--store',
      `fs://${join(folder, 'guarded')}`,
      '--listen',
      '127.0.0.1:0',
      '--token-file',
      tokenFile,
    ]);
    expect(serve.output.stderr).toContain('authentication on');

    expect((await fetch(`${serve.url}/v1`)).status).toBe(401);
    const allowed = await fetch(`${serve.url}/v1`, {
      headers: { authorization: 'Bearer file-token-1234' },
    });
    expect(allowed.status).toBe(200);

    const result = await serve.stop();
    expect(result.stdout + result.stderr).not.toContain('file-token-1234');
  });

  it('takes the token from SMTPQ_TOKEN', async () => {
    const serve = await startServe(
      SMTPQ,
      ['serve', '--store', `fs://${join(folder, 'env-token')}`, '--listen', '127.0.0.1:0'],
      { SMTPQ_TOKEN: 'env-token-5678' },
    );
    expect(serve.output.stderr).toContain('authentication on');
    expect((await fetch(`${serve.url}/v1`)).status).toBe(401);
    const allowed = await fetch(`${serve.url}/v1`, {
      headers: { authorization: 'Bearer env-token-5678' },
    });
    expect(allowed.status).toBe(200);
    await serve.stop();
  });
});

describe('smtpq-frontend-fs', () => {
  it('serves an fs store with the same options', async () => {
    const help = await runProgram(FRONTEND_FS, ['--help']);
    expect(help.code).toBe(0);
    for (const option of OPTIONS) expect(help.stdout).toContain(option);

    const serve = await startServe(FRONTEND_FS, [
      '--store',
      `fs://${join(folder, 'frontend')}`,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(serve.output.stderr).toMatch(/^smtpq-frontend-fs: listening on/);
    expect((await fetch(`${serve.url}/v1/health`)).status).toBe(200);
    expect((await serve.stop()).code).toBe(0);
  });
});
