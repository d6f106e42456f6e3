import {
  isNodeName,
  type NodeInfo,
  type NodeList,
  type QueueClient,
  QueueError,
} from '@smtpq/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import {
  addConnectionOptions,
  CommandError,
  type ConnectionFlags,
  openClient,
  runReporting,
} from './frontend-access.js';
import { writeLine, writeTable } from './output.js';

interface PoolFlags extends ConnectionFlags {
  json?: boolean;
}

/** Adds `smtpq pool` (`pool ls`) and `smtpq pool release NODE` to the command line. */
export function registerPool(program: Command): void {
  const pool = program
    .command('pool')
    .description(
      'Inspect the pool of smtpd nodes that share the queue of a frontend: their leases and ' +
        'the mail each one owns.',
    );

  addConnectionOptions(
    pool
      .command('ls', { isDefault: true })
      .description(
        'List the nodes with the state of their lease (live, expired, released), the time left ' +
          'on a live lease, whether the live nodes may claim their mail, and the messages and ' +
          'envelopes each one owns, then the counts of messages that no node owns. Counting ' +
          'reads every message record of the frontend.',
      )
      .option('--json', 'print JSON instead of a table'),
  ).action(async (flags: PoolFlags) => {
    await withClient(flags, (client) => listNodes(client, flags));
  });

  addConnectionOptions(
    pool
      .command('release')
      .argument('<node>', 'the node whose lease to release', parseNode)
      .description(
        "Release a node's lease, so that the live nodes claim its mail at once instead of " +
          'after its lease expires. Use it for a node that is gone for good. A queue-rest that ' +
          'still runs under that name loses its lease, acquires a new one at its next renewal, ' +
          'and may find some of its mail taken over.',
      ),
  ).action(async (node: string, flags: ConnectionFlags) => {
    await withClient(flags, (client) => releaseNode(client, node, flags));
  });
}

function parseNode(value: string): string {
  if (isNodeName(value)) return value;
  throw new InvalidArgumentError(
    `${JSON.stringify(value)} is not a node name; a node name is 1 to 63 characters of a-z, ` +
      "0-9, '.', '_' and '-', starting with a letter or digit (smtpq pool lists them)",
  );
}

async function withClient(flags: ConnectionFlags, work: (client: QueueClient) => Promise<void>) {
  await runReporting(flags.url, async () => {
    const client = await openClient(flags);
    try {
      await work(client);
    } finally {
      await client.close();
    }
  });
}

/** Reads the node list, turning the 404 of a frontend without pool routes into advice. */
async function nodeList(client: QueueClient, url: string, counts: boolean): Promise<NodeList> {
  try {
    return await client.nodeList({ counts });
  } catch (error) {
    if (error instanceof QueueError && error.code === 'route-not-found') {
      throw new CommandError(
        `the frontend at ${url} has no pool routes (GET /v1 does not list the pool feature); ` +
          'upgrade it to use a pool',
      );
    }
    throw error;
  }
}

async function listNodes(client: QueueClient, flags: PoolFlags): Promise<void> {
  const list = await nodeList(client, flags.url, true);
  const unowned = list.unowned ?? { messages: 0, envelopes: 0 };

  if (flags.json) {
    writeLine(JSON.stringify({ nodes: list.nodes, unowned }, null, 2));
    return;
  }
  const rows = list.nodes.map((node) => [
    node.node,
    node.state,
    node.state === 'live' ? formatDuration(node.remainingMs) : '-',
    node.claimable ? 'yes' : 'no',
    String(node.messages ?? '-'),
    String(node.envelopes ?? '-'),
  ]);
  writeTable(['NODE', 'STATE', 'LEASE', 'CLAIMABLE', 'MESSAGES', 'ENVELOPES'], rows);
  writeLine(
    `unowned: ${plural(unowned.messages, 'message')}, ${plural(unowned.envelopes, 'envelope')}`,
  );
}

async function releaseNode(client: QueueClient, node: string, flags: ConnectionFlags) {
  const list = await nodeList(client, flags.url, false);
  const found: NodeInfo | undefined = list.nodes.find((entry) => entry.node === node);
  if (found === undefined) {
    throw new CommandError(
      `node ${node} has no lease at the frontend at ${flags.url}; smtpq pool lists the nodes`,
    );
  }
  if (found.state === 'released') {
    writeLine(`node ${node}: lease already released`);
    return;
  }

  await client.nodeLeaseRelease(node);
  writeLine(`node ${node}: lease released; the live nodes can claim its messages now`);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Formats ms as whole seconds, or minutes and seconds: 27s, 4m05s. */
function formatDuration(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const rest = String(seconds % 60).padStart(2, '0');
  return `${Math.floor(seconds / 60)}m${rest}s`;
}
