import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueClient, randomEvpid, randomMsgid, TransportError } from '@smtpq/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * The frontend binary with --tls-cert and --tls-key serves HTTPS on an fs store, and the typed
 * client reaches it only when it trusts the certificate. The binary is the built one: run
 * `pnpm build` first.
 */

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

let folder: string;
let cert: string;
let child: ChildProcess;
let url: string;

/** Starts the binary and returns the URL it prints once it listens. */
async function startBinary(args: string[]): Promise<string> {
  child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  for await (const chunk of child.stderr as AsyncIterable<Buffer>) {
    stderr += chunk.toString();
    const match = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
    if (match !== null) return match[1] as string;
  }
  throw new Error(`the frontend exited before it listened: ${stderr}`);
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'smtpq-fs-tls-'));
  const certPath = join(folder, 'cert.pem');
  const keyPath = join(folder, 'key.pem');
  // A self-signed certificate for 127.0.0.1, made by the openssl command line tool.
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
      .concat(['-keyout', keyPath, '-out', certPath]),
    { stdio: 'pipe' },
  );
  cert = await readFile(certPath, 'utf8');

  url = await startBinary(
    ['--store', `fs://${join(folder, 'store')}`, '--listen', '127.0.0.1:0'].concat([
      '--tls-cert',
      certPath,
      '--tls-key',
      keyPath,
      '--log-level',
      'warn',
    ]),
  );
}, 30_000);

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  await rm(folder, { recursive: true, force: true });
});

describe('smtpq-frontend-fs with --tls-cert and --tls-key', () => {
  it('serves an fs store over HTTPS to a client that trusts it', async () => {
    const client = new QueueClient({ url, ca: cert });
    const msgid = randomMsgid();
    const evpid = randomEvpid(msgid);

    try {
      await client.messageBundle(msgid, [{ evpid, data: Buffer.from('rcpt') }], Buffer.from('b'));
      const info = await client.messageInfo(msgid);
      const page = await client.walk();

      expect(url).toMatch(/^https:/);
      expect(info.state).toBe('committed');
      expect(page.envelopes.map((entry) => entry.evpid)).toEqual([evpid]);
    } finally {
      await client.close();
    }
  });

  it('refuses a client without the certificate with a tls TransportError', async () => {
    const client = new QueueClient({ url, retryBudgetMs: 0 });

    try {
      const error = await client.health().then(
        () => null,
        (failure: unknown) => failure,
      );

      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).code).toBe('tls');
      expect((error as TransportError).message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      await client.close();
    }
  });
});
