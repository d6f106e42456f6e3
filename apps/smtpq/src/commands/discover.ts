import { setTimeout as sleep } from 'node:timers/promises';
import type { DecodedWalkEntry, Evpid, Msgid, QueueClient } from '@smtpq/protocol';
import { QueueError } from '@smtpq/protocol';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  addFrontendOptions,
  CommandError,
  type FrontendFlags,
  messageEnvelopes,
  openClient,
  parseMsgid,
  rejectionReason,
  runReporting,
} from './frontend-access.js';
import { smtpctlDiscoverCommand } from './smtpctl.js';

/** Default time in seconds to wait for smtpd to deliver one envelope before the next. */
const DEFAULT_WAIT_SECONDS = 60;

/** Pause in ms between two reads of a discovered envelope while waiting for its delivery. */
const POLL_INTERVAL_MS = 200;

interface DiscoverFlags extends FrontendFlags {
  smtpctl: string;
  wait: number;
}

/** Outcome for a discovered envelope after `smtpq discover` waited for its delivery. */
type Fate = 'delivered' | 'retried' | 'waiting';

const DESCRIPTION =
  'Make the local smtpd load and schedule every envelope of one committed message from the ' +
  'frontend, for example the mail of an MX that died, by running `smtpctl discover EVPID` ' +
  'once per envelope.\n\n' +
  "smtpd's scheduler ignores the discover of an envelope while it holds another envelope of " +
  'the same message (smtpctl still prints "1 envelope discovered"), so this command ' +
  'discovers the next envelope only after smtpd has delivered the previous one and queue-rest ' +
  'has deleted it from the frontend. When an envelope stays queued (its delivery was ' +
  'deferred, or it takes longer than --wait), the command stops and names the envelopes left; ' +
  'run it again later, or restart smtpd, whose start-up walk schedules them all.\n\n' +
  'Never run `smtpctl discover MSGID` with queue-rest: a message walk is missing from ' +
  "smtpd's proc queue backend, and smtpd's queue process dies on it, which stops the whole " +
  'smtpd (seen with OpenSMTPD 6.8.0p2).';

/** Adds `smtpq discover MSGID` to the command line. */
export function registerDiscover(program: Command): void {
  addFrontendOptions(
    program
      .command('discover')
      .summary('make the local smtpd schedule every envelope of one message, one by one')
      .description(DESCRIPTION)
      .argument('<msgid>', 'the committed message whose envelopes smtpd must schedule', parseMsgid)
      .option('--smtpctl <path>', 'the smtpctl program to run', 'smtpctl')
      .addOption(
        new Option(
          '--wait <seconds>',
          'time to wait for smtpd to deliver each envelope before it discovers the next',
        )
          .argParser(parseSeconds)
          .default(DEFAULT_WAIT_SECONDS),
      ),
  ).action(async (msgid: Msgid, flags: DiscoverFlags) => {
    await runReporting(flags.url, async () => {
      const client = await openClient(flags);
      try {
        await discoverMessage(client, msgid, flags);
      } finally {
        await client.close();
      }
    });
  });
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new InvalidArgumentError(`${value} is not a whole number of seconds, at least 1`);
  }
  return seconds;
}

async function discoverMessage(client: QueueClient, msgid: Msgid, flags: DiscoverFlags) {
  const { envelopes, rejected } = await committedEnvelopes(client, msgid, flags);
  let discovered = 0;

  for (const [index, envelope] of envelopes.entries()) {
    const outcome = await smtpctlDiscoverCommand(flags.smtpctl, envelope.evpid);
    if (!outcome.ok) {
      process.stderr.write(`${envelope.evpid}: ${outcome.text}\n`);
      continue;
    }
    discovered += 1;
    process.stdout.write(`${envelope.evpid}: ${outcome.text}\n`);

    const rest = envelopes.slice(index + 1);
    if (rest.length === 0) break;
    const fate = await waitForDelivery(client, envelope, flags.wait * 1000);
    if (fate !== 'delivered') {
      reportBlocked(msgid, envelope.evpid, fate, rest, flags.wait);
      break;
    }
  }

  const total = envelopes.length + rejected;
  const noun = total === 1 ? 'envelope' : 'envelopes';
  process.stdout.write(`discovered ${discovered} of ${total} ${noun} of message ${msgid}\n`);
  if (discovered < total) process.exitCode = 1;
}

/**
 * Lists the envelopes smtpd can be given: the message must be committed, because smtpd would
 * deliver an envelope of an open message that its sender may still roll back. Envelopes that
 * queue-rest rejects (oversize, not text) are left out with a line on stderr.
 */
async function committedEnvelopes(
  client: QueueClient,
  msgid: Msgid,
  flags: DiscoverFlags,
): Promise<{ envelopes: DecodedWalkEntry[]; rejected: number }> {
  let state: string;
  try {
    state = (await client.messageInfo(msgid)).state;
  } catch (error) {
    if (error instanceof QueueError && error.code === 'message-not-found') {
      throw new CommandError(`message ${msgid} not found in the frontend at ${flags.url}`);
    }
    throw error;
  }
  if (state !== 'committed') {
    throw new CommandError(
      `message ${msgid} is not committed yet; smtpd must not deliver it before its commit`,
    );
  }

  const envelopes: DecodedWalkEntry[] = [];
  let rejected = 0;
  for (const envelope of await messageEnvelopes(client, msgid, { includeUncommitted: false })) {
    const reason = rejectionReason(envelope.data, flags);
    if (reason === null) {
      envelopes.push(envelope);
    } else {
      rejected += 1;
      process.stderr.write(`${envelope.evpid}: skipped, queue-rest rejects it: ${reason}\n`);
    }
  }
  return { envelopes, rejected };
}

/**
 * Waits until smtpd has delivered a discovered envelope (queue-rest deleted it from the
 * frontend), until smtpd deferred it (queue-rest wrote a new version after a failed attempt),
 * or until `waitMs` has passed.
 */
async function waitForDelivery(
  client: QueueClient,
  envelope: DecodedWalkEntry,
  waitMs: number,
): Promise<Fate> {
  const deadline = Date.now() + waitMs;

  for (;;) {
    try {
      const current = await client.envelopeGet(envelope.evpid);
      if (current.etag !== envelope.etag) return 'retried';
    } catch (error) {
      if (error instanceof QueueError && error.code === 'envelope-not-found') return 'delivered';
      throw error;
    }

    if (Date.now() >= deadline) return 'waiting';
    await sleep(POLL_INTERVAL_MS);
  }
}

function reportBlocked(
  msgid: Msgid,
  evpid: Evpid,
  fate: Exclude<Fate, 'delivered'>,
  rest: DecodedWalkEntry[],
  waitSeconds: number,
): void {
  const state =
    fate === 'retried'
      ? 'smtpd deferred its delivery and keeps it queued'
      : `smtpd has not delivered it within ${waitSeconds} s`;
  process.stderr.write(
    `${evpid}: ${state}. smtpd ignores a discover of the other envelopes of message ` +
      `${msgid} while it holds this one, so these were not discovered: ` +
      `${rest.map((envelope) => envelope.evpid).join(' ')}. Run smtpq discover ${msgid} again ` +
      "once it has left smtpd's queue, or restart smtpd to schedule them all.\n",
  );
}
