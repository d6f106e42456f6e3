import { readFile } from 'node:fs/promises';
import {
  type DecodedWalkEntry,
  type Evpid,
  isEvpid,
  isMsgid,
  type Msgid,
  QueueClient,
  QueueError,
  TransportError,
} from '@smtpq/protocol';
import { envelopeProblem } from '@smtpq/queue-rest';
import { type Command, InvalidArgumentError, Option } from 'commander';

/** Frontend of `smtpq serve` with its defaults, the one the operator commands reach first. */
export const DEFAULT_FRONTEND_URL = 'http://127.0.0.1:8025';

/** Time in ms spent retrying one request of an operator command before it reports a failure. */
const COMMAND_RETRY_BUDGET_MS = 1_000;

/** Envelopes asked for per page when a command lists the envelopes of a message. */
const ENVELOPE_PAGE_LIMIT = 1000;

/** Flags of every command that talks to a frontend. */
export interface ConnectionFlags {
  url: string;
  tokenFile?: string;
}

/** Flags of the commands that read envelopes. */
export interface FrontendFlags extends ConnectionFlags {
  /** queue-rest's `textEnvelopes` setting, for the envelope checks. */
  textEnvelopes: boolean;
}

/** A failure that the command reports as one line on stderr, with exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Adds --url and --token-file to `command`. */
export function addConnectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--url <url>', 'base URL of the frontend, without /v1')
        .argParser(parseHttpUrl)
        .default(DEFAULT_FRONTEND_URL),
    )
    .option('--token-file <file>', 'file with the bearer token of the frontend, alone on one line');
}

/** Adds --url, --token-file and --no-text-envelopes to `command`. */
export function addFrontendOptions(command: Command): Command {
  return addConnectionOptions(command).option(
    '--no-text-envelopes',
    "check envelopes as queue-rest does with textEnvelopes false (smtpd.conf has 'queue " +
      "encryption' or 'queue compression', so envelopes are binary)",
  );
}

function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(
      `${value} is not a URL; give one such as ${DEFAULT_FRONTEND_URL}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`${value} must start with http:// or https://`);
  }
  return value;
}

/** Checks a msgid argument: 8 lower-case hex digits, not all zero. */
export function parseMsgid(value: string): Msgid {
  if (isMsgid(value)) return value;
  if (isEvpid(value)) {
    throw new InvalidArgumentError(
      `${value} is an evpid; give the msgid of its message, its first 8 digits (${value.slice(0, 8)})`,
    );
  }
  throw new InvalidArgumentError(
    `${JSON.stringify(value)} is not a msgid; a msgid is 8 lower-case hex digits, not all zero ` +
      '(such as 0000abcd)',
  );
}

/** Checks an evpid argument: 16 lower-case hex digits, neither half all zero. */
export function parseEvpid(value: string): Evpid {
  if (isEvpid(value)) return value;
  throw new InvalidArgumentError(
    `${JSON.stringify(value)} is not an evpid; an evpid is 16 lower-case hex digits whose ` +
      'first 8 are its msgid (such as 0000abcd00000001)',
  );
}

/** Opens a client of the frontend named by the flags, with the token of --token-file. */
export async function openClient(flags: ConnectionFlags): Promise<QueueClient> {
  const token = flags.tokenFile === undefined ? undefined : await readToken(flags.tokenFile);
  return new QueueClient({ url: flags.url, token, retryBudgetMs: COMMAND_RETRY_BUDGET_MS });
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CommandError(`--token-file ${path} cannot be read: ${(error as Error).message}`);
  }

  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    throw new CommandError(`--token-file ${path} must contain the token alone on one line`);
  }
  return token;
}

/** Returns the reason queue-rest rejects this envelope for smtpd, or null when it accepts it. */
export function rejectionReason(data: Buffer, flags: FrontendFlags): string | null {
  return envelopeProblem(data, { text: flags.textEnvelopes });
}

/** Reads every envelope of one message, page by page. */
export async function messageEnvelopes(
  client: QueueClient,
  msgid: Msgid,
  options: { includeUncommitted: boolean },
): Promise<DecodedWalkEntry[]> {
  const envelopes: DecodedWalkEntry[] = [];
  let cursor: string | undefined;

  for (;;) {
    const page = await client.messageWalk(msgid, {
      cursor,
      limit: ENVELOPE_PAGE_LIMIT,
      includeUncommitted: options.includeUncommitted,
    });
    envelopes.push(...page.envelopes);
    if (page.end) return envelopes;
    cursor = page.next ?? undefined;
  }
}

/** Returns the operator's message for a failed request to the frontend at `url`. */
export function describeFrontendError(error: unknown, url: string): string {
  if (error instanceof TransportError) {
    if (error.code === 'timeout') {
      return `the frontend at ${url} did not answer in time: ${error.message}`;
    }
    if (error.code === 'tls') return `TLS to the frontend at ${url} failed: ${error.message}`;
    return (
      `cannot reach the frontend at ${url}: ${error.message}; ` +
      'check --url and that the frontend runs'
    );
  }
  if (error instanceof QueueError) {
    if (error.code === 'unauthorized') {
      return (
        `the frontend at ${url} requires a valid token (401 unauthorized); ` +
        'pass --token-file with the token of the frontend'
      );
    }
    return `the frontend at ${url} answered ${error.status} ${error.code}: ${error.message}`;
  }
  return (error as Error).message;
}

/**
 * Runs a command's work and turns an expected failure into one line on stderr with exit
 * status 1, without the usage text that commander prints after an argument error.
 * Unexpected errors propagate with their stack.
 */
export async function runReporting(url: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (
      error instanceof CommandError ||
      error instanceof QueueError ||
      error instanceof TransportError
    ) {
      process.stderr.write(`error: ${describeFrontendError(error, url)}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}
