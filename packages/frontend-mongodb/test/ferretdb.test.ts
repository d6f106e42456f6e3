import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MongoDriver, openMongoDriver } from '../src/index.js';
import { generatedStream, readAll } from './support/bytes.js';
import { type FerretDbServer, ferretdbStart } from './support/ferretdb.js';

// This file tests the test server itself and the driver against FerretDB's own
// authentication, so it starts FerretDB even when SMTPQ_TEST_MONGODB_URL is set.

interface SocketEntry {
  protocol: string;
  local: string;
  remote: string;
  listening: boolean;
}

/** Decodes an address of /proc/net/tcp (little-endian hex IPv4, or IPv6 in 32-bit words). */
function decodeAddress(hex: string): string {
  const [address = '', port = ''] = hex.split(':');
  const portNumber = Number.parseInt(port, 16);
  if (address.length === 8) {
    const bytes = Buffer.from(address, 'hex').reverse();
    return `${[...bytes].join('.')}:${portNumber}`;
  }
  const words = address.match(/.{8}/g) ?? [];
  const bytes = Buffer.concat(words.map((word) => Buffer.from(word, 'hex').reverse()));
  return `[${bytes.toString('hex').match(/.{4}/g)?.join(':')}]:${portNumber}`;
}

/** Lists the TCP and UDP sockets a process holds, from /proc. */
async function socketsOf(pid: number): Promise<SocketEntry[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1] !== undefined) inodes.add(match[1]);
  }

  const sockets: SocketEntry[] = [];
  for (const protocol of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const table = await readFile(`/proc/${pid}/net/${protocol}`, 'utf8');
    for (const line of table.trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (!inodes.has(fields[9] ?? '')) continue;
      sockets.push({
        protocol,
        local: decodeAddress(fields[1] ?? ''),
        remote: decodeAddress(fields[2] ?? ''),
        listening: protocol.startsWith('tcp') && fields[3] === '0A',
      });
    }
  }
  return sockets;
}

const LOOPBACK =
  /^(127\.\d+\.\d+\.\d+|\[0000:0000:0000:0000:0000:0000:0000:0001\]|\[0000:0000:0000:0000:0000:ffff:7f..:....\]):\d+$/;

describe('FerretDB test server', () => {
  let ferretdb: FerretDbServer;
  let driver: MongoDriver;

  beforeAll(async () => {
    ferretdb = await ferretdbStart();
    driver = await openMongoDriver(ferretdb.url('sandbox'));
  }, 900_000);

  afterAll(async () => {
    await driver?.close();
    await ferretdb?.stop();
    if (ferretdb !== undefined) await rm(ferretdb.dataDir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only and connects nowhere else', async () => {
    await driver.create('msg/00000001', Buffer.from('traffic'));
    await driver.blobPut('body/00000001/a', generatedStream(1024 * 1024));
    expect((await readAll((await driver.blobGet('body/00000001/a'))?.stream)).length).toBe(
      1024 * 1024,
    );

    const sockets = await socketsOf(ferretdb.pid);
    const listening = sockets.filter((socket) => socket.listening);
    expect(listening.map((socket) => socket.local)).toEqual([`127.0.0.1:${ferretdb.port}`]);
    for (const socket of sockets.filter((entry) => !entry.listening)) {
      expect(socket.protocol, JSON.stringify(socket)).toMatch(/^tcp/);
      expect(socket.remote, JSON.stringify(socket)).toMatch(LOOPBACK);
    }
  });

  it('runs with telemetry disabled', () => {
    expect(ferretdb.log()).toMatch(/Telemetry is disabled/);
    expect(ferretdb.log()).not.toMatch(/Reporting telemetry/);
  });

  it('driver picks locked conditional writes on FerretDB 1.x', () => {
    expect(driver.conditionalWrites).toBe('locked');
    expect(driver.deployment).toBe('standalone');
  });
});

describe('credentials', () => {
  let ferretdb: FerretDbServer;

  beforeAll(async () => {
    ferretdb = await ferretdbStart({
      extraArgs: [
        '--test-enable-new-auth',
        '--setup-database=smtpq',
        '--setup-username=alice',
        '--setup-password=correct-password',
      ],
    });
  }, 900_000);

  afterAll(async () => {
    await ferretdb?.stop();
    if (ferretdb !== undefined) await rm(ferretdb.dataDir, { recursive: true, force: true });
  });

  it('wrong password fails at startup with a clear message', async () => {
    const url = `mongodb://alice:wrong-password@127.0.0.1:${ferretdb.port}/smtpq`;

    const error = (await openMongoDriver(url).catch((caught: unknown) => caught)) as Error;

    expect(error.message).toMatch(/rejected the credentials: check the user name, the password/);
    expect(error.message).toContain('alice:***@');
    expect(error.message).not.toContain('wrong-password');
  });

  it('right password opens the store', async () => {
    const url = `mongodb://alice:correct-password@127.0.0.1:${ferretdb.port}/smtpq`;

    const driver = await openMongoDriver(url);
    try {
      expect(await driver.create('msg/00000002', Buffer.from('x'))).toEqual(expect.any(String));
    } finally {
      await driver.close();
    }
  });
});
