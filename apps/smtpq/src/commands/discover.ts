import { spawn } from 'node:child_process';
import type { Evpid, Msgid, QueueClient } from '@smtpq/protocol';
import { QueueError } from '@smtpq/protocol';
import type { Command } from 'commander';
import {
  addFrontendOptions,
  CommandError,
  type FrontendFlags,
  messageEnvelopes,
  openClient,
  parseMsgid,
  refusalReason,
  runReporting,
} from './frontend-access.js';

/** Time in ms one `smtpctl discover` may take before it is killed and counted as failed. */
const SMTPCTL_TIMEOUT_MS = 30_000;

interface DiscoverFlags extends FrontendFlags {
  smtpctl: string;
}

/** How one `smtpctl discover EVPID` ended. */
interface SmtpctlOutcome {
  ok: boolean;
  /** What smtpctl printed, or why it failed, on one line. */
  text: string;
}

/** Adds `smtpq discover MSGID` to the command line. */
export function registerDiscover(program: Command): void {
  addFrontendOptions(
    program
      .command('discover')
      .argument('<msgid>', 'the committed message whose envelopes smtpd must schedule', parseMsgid)
      .description(
        'Make the local smtpd load and schedule every envelope of one message from the ' +
          'frontend, for example the mail of an MX that died, by running `smtpctl discover ' +
          'EVPID` once per envelope. Never run `smtpctl discover MSGID` with queue-rest: a ' +
          "message walk is missing from smtpd's proc queue backend, and smtpd's queue " +
          'process dies on it, which stops the whole smtpd (seen with OpenSMTPD 6.8.0p2).',
      )
      .option('--smtpctl <path>', 'the smtpctl program to run', 'smtpctl'),
  ).action(async (msgid: Msgid, flags: DiscoverFlags, command: Command) => {
    await runReporting(command, flags.url, async () => {
      const client = await openClient(flags);
      let listed: { evpids: Evpid[]; refused: number };
      try {
        listed = await committedEnvelopes(client, msgid, flags);
      } finally {
        await client.close();
      }

      const discovered = await discoverEach(listed.evpids, flags);
      const total = listed.evpids.length + listed.refused;
      process.stdout.write(`discovered ${discovered} of ${total} envelopes of message ${msgid}\n`);
      if (discovered < total) process.exitCode = 1;
    });
  });
}

/**
 * Lists the evpids smtpd can be given: the message must be committed, because smtpd would
 * deliver an envelope of an open message that its sender may still roll back. Envelopes that
 * queue-rest refuses (oversize, not text) are left out with a line on stderr.
 */
async function committedEnvelopes(
  client: QueueClient,
  msgid: Msgid,
  flags: DiscoverFlags,
): Promise<{ evpids: Evpid[]; refused: number }> {
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

  const evpids: Evpid[] = [];
  let refused = 0;
  for (const envelope of await messageEnvelopes(client, msgid, { includeUncommitted: false })) {
    const reason = refusalReason(envelope.data, flags);
    if (reason === null) {
      evpids.push(envelope.evpid);
    } else {
      refused += 1;
      process.stderr.write(`${envelope.evpid}: skipped, queue-rest refuses it: ${reason}\n`);
    }
  }
  return { evpids, refused };
}

/** Runs `smtpctl discover EVPID` for each envelope; returns how many succeeded. */
async function discoverEach(evpids: Evpid[], flags: DiscoverFlags): Promise<number> {
  let ok = 0;

  for (const evpid of evpids) {
    const outcome = await runSmtpctl(flags.smtpctl, ['discover', evpid]);
    if (outcome.ok) {
      ok += 1;
      process.stdout.write(`${evpid}: ${outcome.text}\n`);
    } else {
      process.stderr.write(`${evpid}: ${outcome.text}\n`);
    }
  }
  return ok;
}

/** Runs smtpctl to its end. A missing or unusable program stops the whole command. */
function runSmtpctl(program: string, args: string[]): Promise<SmtpctlOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), SMTPCTL_TIMEOUT_MS);

    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        reject(
          new CommandError(
            `cannot run ${program} (${error.code}); install OpenSMTPD's smtpctl or pass ` +
              '--smtpctl with its path',
          ),
        );
        return;
      }
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = Buffer.concat(output)
        .toString('utf8')
        .trim()
        .replace(/\s*\n\s*/g, '; ');
      if (code === 0) {
        resolve({ ok: true, text: text === '' ? 'discovered' : text });
        return;
      }
      const ending = signal === null ? `exit status ${code}` : `signal ${signal}`;
      resolve({
        ok: false,
        text: `smtpctl failed with ${ending}${text === '' ? '' : `: ${text}`}`,
      });
    });
  });
}
