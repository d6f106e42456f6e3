import dns from 'node:dns';
import net from 'node:net';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatastoreDriver } from '../src/index.js';
import { driverOpen, freshTarget, piecesOf, testServerStart } from './helpers.js';

/**
 * Every outgoing TCP connection and DNS lookup of this test process is recorded, and any to
 * another address than loopback is refused before a packet leaves: the Google client must
 * never try the cloud metadata server (169.254.169.254, metadata.google.internal).
 */
const connections: string[] = [];
const lookups: string[] = [];

const originalConnect = net.Socket.prototype.connect;
const originalLookup = dns.lookup;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

beforeAll(() => {
  net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    const options = (Array.isArray(first) ? first[0] : first) as
      | { host?: string; port?: number; path?: string }
      | number;
    if (typeof options === 'object' && options !== null && options.path === undefined) {
      const host = options.host ?? 'localhost';
      connections.push(`${host}:${options.port}`);
      if (!isLoopback(host)) throw new Error(`blocked connection to ${host} by the test`);
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    lookups.push(hostname);
    if (!isLoopback(hostname)) throw new Error(`blocked DNS lookup of ${hostname} by the test`);
    return (originalLookup as (...a: unknown[]) => void)(hostname, ...rest);
  }) as typeof dns.lookup;
});

afterAll(() => {
  net.Socket.prototype.connect = originalConnect;
  dns.lookup = originalLookup;
});

let server: RunningTestServer;
let driver: DatastoreDriver;

beforeAll(async () => {
  server = await testServerStart();
  driver = await driverOpen(freshTarget('metadata'));
});

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

describe('no cloud metadata probe', () => {
  it('the test sees connections made through net.Socket', async () => {
    const before = connections.length;
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.destroy();
    expect(connections.slice(before)).toEqual([`127.0.0.1:${server.port}`]);
  });

  it('runs with a project id and metadata detection off', () => {
    expect(process.env.METADATA_SERVER_DETECTION).toBe('none');
    expect(driver.access.target.projectId).not.toBe('');
    const options = driver.access.client.options as Record<string, unknown>;
    expect(options.projectId).toBe(driver.access.target.projectId);
    // With a universe domain given, the client asks for no credentials on the emulator path.
    expect(options.universeDomain).toBe('googleapis.com');
  });

  it('every operation talks to the test server on loopback only', async () => {
    const before = connections.length;
    const version = await driver.create('msg/0000abcd', Buffer.from('m'));
    await driver.replace('msg/0000abcd', Buffer.from('n'), version as string);
    await driver.list('msg/', { limit: 10 });
    await driver.blobPut('body/0000abcd/000000000001-aa', piecesOf(Buffer.alloc(3_000_000, 1)));
    await driver.blobGet('body/0000abcd/000000000001-aa');
    await driver.delete('msg/0000abcd');
    await driver.health();

    // The driver's first call opened its gRPC channel: the test saw that connection.
    expect(connections.slice(before)).toContain(`127.0.0.1:${server.port}`);
    const hosts = new Set(connections.map((connection) => connection.split(':')[0]));
    expect([...hosts]).toEqual(['127.0.0.1']);
    expect(lookups.filter((hostname) => !isLoopback(hostname))).toEqual([]);
  });
});
