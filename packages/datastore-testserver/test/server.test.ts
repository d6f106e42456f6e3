import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Datastore } from '@google-cloud/datastore';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningTestServer, startTestServer } from '../src/index.js';
import { insert, key, nonTransactional, PROJECT, rawClient, statusOf } from './helpers.js';

// Without this setting the Google client probes the cloud metadata server: never let it.
process.env.METADATA_SERVER_DETECTION = 'none';

const servers: RunningTestServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

async function started(options: Parameters<typeof startTestServer>[0] = {}) {
  const server = await startTestServer(options);
  servers.push(server);
  return server;
}

describe('counters and faults', () => {
  it('counts calls and statuses per method', async () => {
    const server = await started();
    const client = rawClient(server.address);
    await client.call('Commit', nonTransactional(insert(key('C', 'a'))));
    await statusOf(client.call('Commit', nonTransactional(insert(key('C', 'a')))));
    await client.call('Lookup', { keys: [key('C', 'a')] });
    client.close();

    expect(server.counters.callCounts()).toEqual({ Commit: 2, Lookup: 1 });
    expect(server.counters.statusCounts()).toEqual({
      Commit: { OK: 1, ALREADY_EXISTS: 1 },
      Lookup: { OK: 1 },
    });
    expect(server.counters.totalCalls()).toBe(3);
  });

  it('applies a scripted fault to the next calls of one method only', async () => {
    const server = await started();
    const client = rawClient(server.address);
    server.injectFault({ method: 'Commit', code: status.UNAVAILABLE, times: 2 });

    const results = [
      await statusOf(client.call('Lookup', { keys: [key('C', 'b')] })),
      await statusOf(client.call('Commit', nonTransactional(insert(key('C', 'b'))))),
      await statusOf(client.call('Commit', nonTransactional(insert(key('C', 'b'))))),
      await statusOf(client.call('Commit', nonTransactional(insert(key('C', 'b'))))),
    ];
    client.close();

    expect(results).toEqual(['OK', 'UNAVAILABLE', 'UNAVAILABLE', 'OK']);
  });
});

describe('lifecycle', () => {
  it('serves the same entities again after a restart on the same port', async () => {
    const first = await startTestServer();
    const client = rawClient(first.address);
    await client.call('Commit', nonTransactional(insert(key('C', 'kept'))));
    client.close();
    await first.stop();

    const second = await started({ port: first.port, state: first.state });
    const again = rawClient(second.address);
    const response = await again.call('Lookup', { keys: [key('C', 'kept')] });
    again.close();

    expect(second.address).toBe(first.address);
    expect(response.found).toHaveLength(1);
  });

  it('refuses to listen on a non-loopback address', async () => {
    await expect(startTestServer({ host: '0.0.0.0' })).rejects.toThrow(/loopback addresses only/);
  });

  it('the CLI prints its address and stops on SIGTERM', async () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const child = spawn(process.execPath, [cli, '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const address = /^listening on (127\.0\.0\.1:[0-9]+)$/m.exec(line.toString())?.[1];
    expect(address).toBeDefined();

    const client = rawClient(address as string);
    expect(await statusOf(client.call('Commit', nonTransactional(insert(key('C', 'cli')))))).toBe(
      'OK',
    );
    client.close();

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('the CLI rejects a non-loopback address', async () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const child = spawn(process.execPath, [cli, '--listen', '10.1.2.3:0'], {
      env: { PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/loopback addresses only/);
  });
});

describe('the Google client library against the test server', () => {
  it('saves, reads, queries and commits a transaction', async () => {
    const server = await started();
    const datastore = new Datastore({
      projectId: PROJECT,
      namespace: 'library',
      apiEndpoint: server.address,
    });

    try {
      const entityKey = datastore.key(['G', 'g', 'R', 'a']);
      await datastore.insert({ key: entityKey, data: { n: 1, body: Buffer.from('bytes') } });
      await expect(datastore.insert({ key: entityKey, data: { n: 2 } })).rejects.toMatchObject({
        code: status.ALREADY_EXISTS,
      });

      const transaction = datastore.transaction();
      const [current] = await transaction.get(entityKey);
      transaction.update({ key: entityKey, data: { ...current, n: current.n + 1 } });
      await transaction.commit();

      const query = datastore.createQuery('R').hasAncestor(datastore.key(['G', 'g']));
      const [rows] = await datastore.runQuery(query);
      expect(rows).toHaveLength(1);
      expect(rows[0].n).toBe(2);
      expect(Buffer.from(rows[0].body).toString()).toBe('bytes');
      expect(server.counters.callCounts()).toMatchObject({ Commit: 3, Lookup: 1, RunQuery: 1 });
    } finally {
      for (const client of (
        datastore as unknown as { clients_: Map<string, { close(): Promise<void> }> }
      ).clients_.values()) {
        await client.close();
      }
    }
  });
});
