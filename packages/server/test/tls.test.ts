import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

let folder: string;
let cert: string;
let key: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'smtpq-tls-'));
  // A self-signed certificate for 127.0.0.1, made by the openssl command line tool.
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    join(folder, 'key.pem'),
    '-out',
    join(folder, 'cert.pem'),
  ]);
  cert = await readFile(join(folder, 'cert.pem'), 'utf8');
  key = await readFile(join(folder, 'key.pem'), 'utf8');
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS', () => {
  it('serves the protocol over TLS with the given certificate', async () => {
    const server = await startTestServer({ tls: { cert, key } });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const response = await httpsGet(`${server.url}/v1/health`, cert);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
  });
});
