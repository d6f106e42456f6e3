import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FrontendProcess, frontendStart } from './frontend-process.js';
import { PROJECT, testServerStart } from './helpers.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

let server: RunningTestServer;
let frontend: FrontendProcess;

beforeAll(async () => {
  server = await testServerStart();
  frontend = await frontendStart(`datastore://${PROJECT}/bin`, server.address);
});

afterAll(async () => {
  await frontend?.stop();
  await server?.stop();
});

describe('smtpq-frontend-datastore', () => {
  it('serves the protocol over the datastore store', async () => {
    const info = await fetch(`${frontend.url}/v1`);
    expect(info.status).toBe(200);
    expect((await info.json()).store).toBe('datastore');

    const health = await fetch(`${frontend.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(server.counters.callCounts().Lookup ?? 0).toBeGreaterThan(0);
  });

  it('answers 503 with Retry-After on health while the service is down', async () => {
    const port = server.port;
    const state = server.state;
    await server.stop();
    try {
      const health = await fetch(`${frontend.url}/v1/health`);
      expect(health.status).toBe(503);
      expect(health.headers.get('retry-after')).not.toBeNull();
    } finally {
      server = await testServerStart({ port, state });
    }
  });

  it('exits with a message naming an invalid store URL', async () => {
    const child = spawn(process.execPath, [BIN, '--store', 'datastore://X/ns'], {
      env: { PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');

    expect(code).toBe(1);
    expect(stderr).toContain('invalid datastore store URL "datastore://X/ns"');
  });

  it('exits when the emulator is down at start', async () => {
    const closed = await closedPort();
    const child = spawn(process.execPath, [BIN, '--store', `datastore://${PROJECT}/down`], {
      env: {
        PATH: process.env.PATH,
        METADATA_SERVER_DETECTION: 'none',
        DATASTORE_EMULATOR_HOST: `127.0.0.1:${closed}`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');

    expect(code).toBe(1);
    expect(stderr).toContain(`DATASTORE_EMULATOR_HOST=127.0.0.1:${closed} did not respond`);
    expect(stderr).not.toContain('Resolution note');
  });
});

/** Returns a loopback port that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
