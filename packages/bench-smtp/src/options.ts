import { parseArgs } from 'node:util';

export type QueueKind = 'fs' | 'rest';

/**
 * `separate`: smtpd starts with its MTA paused (-P mta), so acceptance is measured alone, then
 * `smtpctl resume mta` starts delivery. `mixed`: smtpd delivers while it accepts, as in service.
 */
export type PhaseMode = 'separate' | 'mixed';

export interface BenchOptions {
  messages: number;
  sessions: number;
  /** Size of each message in bytes, header included. */
  messageBytes: number;
  messagesPerConnection: number;
  /** Messages sent before the measured load, which the rates leave out. */
  warmup: number;
  runs: number;
  queues: QueueKind[];
  phases: PhaseMode;
  /**
   * Folder under which the rest run's store is made; null for the system's temporary folder,
   * which also contains smtpd's spool.
   */
  storeParent: string | null;
  /** Whether queue-rest and the frontend run with the timing probes. */
  probes: boolean;
  /** File that receives every figure as JSON, or null. */
  jsonPath: string | null;
}

export const USAGE = `usage: pnpm bench:smtp [options]

Runs one smtpd configuration with smtpd's own fs queue and with queue-rest on the fs frontend,
sends the same SMTP load to each, and reports acceptance and delivery rates.

  --messages N           messages per run (default 2000)
  --sessions N           concurrent SMTP sessions (default 8)
  --size BYTES           size of each message, header included (default 4096)
  --per-connection N     messages sent over one SMTP connection before a new one (default 50;
                         smtpd accepts at most 100 per session by default)
  --warmup N             messages sent before the measured load, left out of the
                         acceptance rate (default 50, 0 for none)
  --runs N               rounds of the runs, one queue after the other (default 1)
  --queues LIST          fs,rest (default), fs or rest
  --phases MODE          separate (default): accept with the MTA paused, then deliver;
                         mixed: deliver while accepting
  --store-parent DIR     make the rest run's store under DIR instead of the temporary
                         folder that contains smtpd's spool (/dev/shm shows the cost of
                         the disk)
  --no-probes            run queue-rest and the frontend without the timing probes
  --json FILE            also write every figure to FILE as JSON
  --help                 print this text
`;

/** Error in the command line; its message names the option and the accepted values. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function integerAtLeast(
  minimum: number,
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;

  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < minimum) {
    throw new UsageError(
      `--${name} ${value} is invalid: give a whole number of at least ${minimum}`,
    );
  }
  return number;
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  return integerAtLeast(1, name, value, fallback);
}

function countOf(name: string, value: string | undefined, fallback: number): number {
  return integerAtLeast(0, name, value, fallback);
}

function queueList(value: string | undefined): QueueKind[] {
  if (value === undefined) return ['fs', 'rest'];

  const queues = value.split(',').map((item) => item.trim());
  for (const queue of queues) {
    if (queue !== 'fs' && queue !== 'rest') {
      throw new UsageError(`--queues ${value} is invalid: give fs,rest, fs or rest`);
    }
  }
  return [...new Set(queues as QueueKind[])];
}

function phaseMode(value: string | undefined): PhaseMode {
  if (value === undefined) return 'separate';
  if (value !== 'separate' && value !== 'mixed') {
    throw new UsageError(`--phases ${value} is invalid: give separate or mixed`);
  }
  return value;
}

/** Parses the command line; returns null when --help was given. */
export function parseOptions(argv: string[]): BenchOptions | null {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values;
  if (values.help) return null;

  const messageBytes = positiveInteger('size', values.size, 4096);
  if (messageBytes < 512) {
    throw new UsageError(`--size ${messageBytes} is invalid: give at least 512 bytes`);
  }

  return {
    messages: positiveInteger('messages', values.messages, 2000),
    sessions: positiveInteger('sessions', values.sessions, 8),
    messageBytes,
    messagesPerConnection: positiveInteger('per-connection', values['per-connection'], 50),
    warmup: countOf('warmup', values.warmup, 50),
    runs: positiveInteger('runs', values.runs, 1),
    queues: queueList(values.queues),
    phases: phaseMode(values.phases),
    storeParent: values['store-parent'] ?? null,
    probes: !values['no-probes'],
    jsonPath: values.json ?? null,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      messages: { type: 'string' },
      sessions: { type: 'string' },
      size: { type: 'string' },
      'per-connection': { type: 'string' },
      warmup: { type: 'string' },
      runs: { type: 'string' },
      queues: { type: 'string' },
      phases: { type: 'string' },
      'store-parent': { type: 'string' },
      'no-probes': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
}
