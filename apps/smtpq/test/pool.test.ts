import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Msgid, QueueClient, randomMsgid } from '@smtpq/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { envelopeText, runSmtpq, startTestFrontend, type TestFrontend } from './queue-frontend.js';

const opened: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function frontend(options: { token?: string } = {}): Promise<TestFrontend> {
  const front = await startTestFrontend(options);
  opened.push(front);
  return front;
}

/** Acquires a lease for `node` and returns a client that acts for it. */
async function actAs(front: TestFrontend, node: string, token?: string): Promise<QueueClient> {
  const lease = await front.client.nodeLeaseAcquire(node, { ttlMs: 600_000 });
  const client = new QueueClient({
    url: front.url,
    token,
    retryBudgetMs: 0,
    node: { name: node, leaseId: lease.leaseId },
  });
  opened.push(client);
  return client;
}

/** Stores a committed message with `count` envelopes, owned by the client's node if it has one. */
async function seed(client: QueueClient, count: number): Promise<Msgid> {
  const msgid = randomMsgid();
  await client.messageBundle(
    msgid,
    Array.from({ length: count }, (_, index) => ({
      evpid: `${msgid}0000000${index + 1}`,
      data: envelopeText(`r${index}@example.org`),
    })),
    Buffer.from('Subject: pool\r\n\r\nbody\r\n'),
  );
  return msgid;
}

function lines(text: Buffer | string): string[] {
  return text.toString().trimEnd().split('\n');
}

/** Splits a table line into its cells (cells hold no spaces). */
function cells(line: string): string[] {
  return line.trim().split(/\s+/);
}

describe('smtpq pool', () => {
  it('lists nodes, leases and owned mail', async () => {
    const front = await frontend();
    const mx1 = await actAs(front, 'mx1');
    await seed(mx1, 1);
    await seed(mx1, 2);
    const mx2 = await actAs(front, 'mx2');
    await seed(mx2, 1);
    await front.client.nodeLeaseRelease('mx2');
    await seed(front.client, 2);

    const run = await runSmtpq(['pool', '--url', front.url]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const output = lines(run.stdout);
    expect(output).toHaveLength(4);
    expect(cells(output[0]!)).toEqual([
      'NODE',
      'STATE',
      'LEASE',
      'CLAIMABLE',
      'MESSAGES',
      'ENVELOPES',
    ]);
    const mx1Row = cells(output[1]!);
    expect(mx1Row[0]).toBe('mx1');
    expect(mx1Row[1]).toBe('live');
    expect(mx1Row[2]).toMatch(/^\d+m\d\ds$/);
    expect(mx1Row.slice(3)).toEqual(['no', '2', '3']);
    expect(cells(output[2]!)).toEqual(['mx2', 'released', '-', 'yes', '1', '1']);
    expect(output[3]).toBe('unowned: 1 message, 2 envelopes');
  });

  it('lists an empty pool', async () => {
    const front = await frontend();

    const run = await runSmtpq(['pool', 'ls', '--url', front.url]);

    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([
      'NODE  STATE  LEASE  CLAIMABLE  MESSAGES  ENVELOPES',
      'unowned: 0 messages, 0 envelopes',
    ]);
  });

  it('prints JSON with --json', async () => {
    const front = await frontend();
    await seed(await actAs(front, 'mx1'), 3);

    const run = await runSmtpq(['pool', '--json', '--url', front.url]);

    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout.toString()) as {
      nodes: Array<Record<string, unknown>>;
      unowned: { messages: number; envelopes: number };
    };
    expect(printed.nodes).toHaveLength(1);
    expect(printed.nodes[0]).toMatchObject({
      node: 'mx1',
      state: 'live',
      claimable: false,
      messages: 1,
      envelopes: 3,
    });
    expect(printed.nodes[0]!.remainingMs).toBeGreaterThan(0);
    expect(printed.unowned).toEqual({ messages: 0, envelopes: 0 });
  });

  it('reads the token from --token-file', async () => {
    const front = await frontend({ token: 'pool-token' });
    const folder = await mkdtemp(path.join(tmpdir(), 'smtpq-pool-'));
    opened.push({ close: () => rm(folder, { recursive: true, force: true }) });
    const tokenFile = path.join(folder, 'token');
    await writeFile(tokenFile, 'pool-token\n');

    const denied = await runSmtpq(['pool', '--url', front.url]);
    const allowed = await runSmtpq(['pool', '--url', front.url, '--token-file', tokenFile]);

    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('requires a valid token (401 unauthorized)');
    expect(allowed.code).toBe(0);
    expect(lines(allowed.stdout).at(-1)).toBe('unowned: 0 messages, 0 envelopes');
  });
});

describe('smtpq pool release', () => {
  it('releases a live lease', async () => {
    const front = await frontend();
    await seed(await actAs(front, 'mx1'), 1);

    const run = await runSmtpq(['pool', 'release', 'mx1', '--url', front.url]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([
      'node mx1: lease released; the live nodes can claim its messages now',
    ]);
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state, node.claimable])).toEqual([
      ['mx1', 'released', true],
    ]);
  });

  it('reports a lease already released', async () => {
    const front = await frontend();
    await actAs(front, 'mx1');
    await front.client.nodeLeaseRelease('mx1');

    const run = await runSmtpq(['pool', 'release', 'mx1', '--url', front.url]);

    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual(['node mx1: lease already released']);
  });

  it('rejects a node without a lease', async () => {
    const front = await frontend();
    await actAs(front, 'mx1');

    const run = await runSmtpq(['pool', 'release', 'mx9', '--url', front.url]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: node mx9 has no lease at the frontend at ${front.url}; smtpq pool lists the nodes\n`,
    );
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state])).toEqual([['mx1', 'live']]);
  });

  it('rejects an invalid node name', async () => {
    const front = await frontend();
    await actAs(front, 'mx1');

    const run = await runSmtpq(['pool', 'release', 'MX1', '--url', front.url]);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"MX1" is not a node name');
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state])).toEqual([['mx1', 'live']]);
  });
});
