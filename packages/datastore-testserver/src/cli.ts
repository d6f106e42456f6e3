#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startTestServer } from './server.js';

const USAGE = `usage: smtpq-datastore-testserver [--listen HOST:PORT] [--query-lag-ms MS] [--max-batch-results N]

Serves the Google Cloud Datastore v1 API over gRPC from memory, for tests only.
  --listen HOST:PORT       loopback address and port (default 127.0.0.1:0, a free port)
  --query-lag-ms MS        age of the state non-ancestor queries see (default 0)
  --max-batch-results N    results per RunQuery batch (default 300)
Prints "listening on HOST:PORT" once ready; stops on SIGINT or SIGTERM.`;

function fail(message: string): never {
  process.stderr.write(`smtpq-datastore-testserver: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function nonNegativeInteger(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) fail(`${option} must be a non-negative integer, not "${value}"`);
  return Number(value);
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      listen: { type: 'string', default: '127.0.0.1:0' },
      'query-lag-ms': { type: 'string' },
      'max-batch-results': { type: 'string' },
      help: { type: 'boolean' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const listen = String(values.listen);
const match = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]+)$/.exec(listen);
if (match === null) fail(`--listen must be HOST:PORT (IPv6 in brackets), not "${listen}"`);

try {
  const server = await startTestServer({
    host: match[1] ?? match[2],
    port: Number(match[3]),
    queryLagMs: nonNegativeInteger(values['query-lag-ms'] as string | undefined, '--query-lag-ms'),
    maxBatchResults: nonNegativeInteger(
      values['max-batch-results'] as string | undefined,
      '--max-batch-results',
    ),
  });
  process.stdout.write(`listening on ${server.address}\n`);

  const stop = () => {
    server.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  fail((error as Error).message);
}
