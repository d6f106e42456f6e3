import { readFile } from 'node:fs/promises';
import {
  DEFAULT_CLAIM_GRACE_MS,
  DEFAULT_LIMITS,
  DEFAULT_UNCOMMITTED_MAX_AGE_SECONDS,
} from '@smtpq/protocol';
import type { QueueOptions, QueueStore } from '@smtpq/store';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type Logger, pino } from 'pino';
import { type ListenAddress, parseListenAddress } from './listen-address.js';
import { DEFAULT_GC_INTERVAL_MS, DEFAULT_REQUEST_IDLE_TIMEOUT_MS } from './options.js';
import { type RunningServer, startServer } from './server.js';
import { redactStoreUrl } from './store-url.js';

/** Opens the queue store a URL names; each frontend binary passes its own. */
export type OpenStore = (
  url: string,
  options: { queue: Partial<QueueOptions>; logger: Logger },
) => Promise<QueueStore>;

export interface ServeCommandConfig {
  /** Command name: `serve` under `smtpq`, or the binary's name for a standalone frontend. */
  name: string;
  /** Prefix of error lines on stderr, such as `smtpq serve` or `smtpq-frontend-fs`. */
  programName: string;
  openStore: OpenStore;
  /** Example store URL shown in --help. */
  storeExample?: string;
}

interface ServeFlags {
  store: string;
  listen: ListenAddress;
  tokenFile?: string;
  maxMessageBytes: number;
  maxEnvelopeBytes: number;
  uncommittedMaxAge: number;
  claimGrace: number;
  idleTimeout: number;
  gcInterval: number;
  logLevel: string;
  tlsCert?: string;
  tlsKey?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Builds the `serve` command: serve one store over the protocol until SIGINT or SIGTERM. */
export function createServeCommand(config: ServeCommandConfig): Command {
  return new Command(config.name)
    .description('Serve the smtpq REST queue protocol over one store until SIGINT or SIGTERM.')
    .requiredOption(
      '--store <url>',
      `store URL, such as ${config.storeExample ?? 'fs:///var/lib/smtpq'}`,
    )
    .addOption(
      new Option('--listen <host:port>', 'address and TCP port; IPv6 in brackets, as [::1]:8025')
        .argParser(listenArgument)
        .default(parseListenAddress('127.0.0.1:8025'), '127.0.0.1:8025'),
    )
    .option(
      '--token-file <file>',
      'file with the bearer token clients must send (default: the SMTPQ_TOKEN environment ' +
        'variable; with neither, no authentication and loopback addresses only)',
    )
    .addOption(
      new Option('--max-message-bytes <bytes>', 'maximum message body, in bytes')
        .argParser(positiveInteger)
        .default(DEFAULT_LIMITS.maxMessageBytes),
    )
    .addOption(
      new Option('--max-envelope-bytes <bytes>', 'maximum envelope, in bytes')
        .argParser(positiveInteger)
        .default(DEFAULT_LIMITS.maxEnvelopeBytes),
    )
    .addOption(
      new Option(
        '--uncommitted-max-age <seconds>',
        'age in seconds after which a message never committed is removed',
      )
        .argParser(positiveInteger)
        .default(DEFAULT_UNCOMMITTED_MAX_AGE_SECONDS),
    )
    .addOption(
      new Option(
        '--claim-grace <ms>',
        'milliseconds after the expiry of a pool node lease before other nodes may claim its ' +
          'messages',
      )
        .argParser(nonNegativeInteger)
        .default(DEFAULT_CLAIM_GRACE_MS),
    )
    .addOption(
      new Option(
        '--idle-timeout <ms>',
        'milliseconds a request body may stall before the request fails with 408',
      )
        .argParser(positiveInteger)
        .default(DEFAULT_REQUEST_IDLE_TIMEOUT_MS),
    )
    .addOption(
      new Option(
        '--gc-interval <seconds>',
        'seconds between two garbage collection passes, which also count the queue for ' +
          'GET /metrics; 0 turns both off',
      )
        .argParser(nonNegativeInteger)
        .default(DEFAULT_GC_INTERVAL_MS / 1000),
    )
    .addOption(
      new Option('--log-level <level>', 'level of the JSON log on stdout')
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (needs --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .action(async (flags: ServeFlags) => {
      await serve(flags, config);
    });
}

/** Runs a standalone frontend binary: its whole command line is the `serve` command. */
export async function runServeCommand(config: Omit<ServeCommandConfig, 'name'>): Promise<void> {
  const command = createServeCommand({ ...config, name: config.programName });
  await command.parseAsync(process.argv);
}

async function serve(flags: ServeFlags, config: ServeCommandConfig): Promise<void> {
  const logger = pino({ name: config.programName, level: flags.logLevel });
  const storeUrl = redactStoreUrl(flags.store);

  let store: QueueStore | undefined;
  let running: RunningServer;
  try {
    const token = await readToken(flags.tokenFile);
    const tls = await readTls(flags.tlsCert, flags.tlsKey);
    try {
      store = await config.openStore(flags.store, {
        queue: {
          maxMessageBytes: flags.maxMessageBytes,
          maxEnvelopeBytes: flags.maxEnvelopeBytes,
          uncommittedMaxAgeMs: flags.uncommittedMaxAge * 1000,
          claimGraceMs: flags.claimGrace,
        },
        logger,
      });
    } catch (error) {
      throw new Error(`cannot open store ${storeUrl}: ${(error as Error).message}`, {
        cause: error,
      });
    }

    running = await startServer({
      store,
      host: flags.listen.host,
      port: flags.listen.port,
      token,
      tls,
      logger,
      limits: { maxMessageBytes: flags.maxMessageBytes, maxEnvelopeBytes: flags.maxEnvelopeBytes },
      requestIdleTimeoutMs: flags.idleTimeout,
      gcIntervalMs: flags.gcInterval * 1000,
    });
  } catch (error) {
    await store?.close().catch(() => undefined);
    logger.flush();
    process.stderr.write(`${config.programName}: ${(error as Error).message}\n`);
    process.exit(1);
  }

  // The handlers go in before the startup line, so a signal sent on seeing it is handled.
  stopOnSignals(running, logger, config.programName);

  const authentication = flags.tokenFile !== undefined || process.env.SMTPQ_TOKEN ? 'on' : 'off';
  logger.info({ url: running.url, store: storeUrl, authentication }, 'listening');
  process.stderr.write(
    `${config.programName}: listening on ${running.url}, store ${storeUrl}, ` +
      `authentication ${authentication}\n`,
  );
}

function stopOnSignals(running: RunningServer, logger: Logger, programName: string): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${programName}: ${signal} again, exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');

    running.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function readToken(tokenFile: string | undefined): Promise<string | undefined> {
  if (tokenFile === undefined) {
    const fromEnvironment = process.env.SMTPQ_TOKEN;
    return fromEnvironment === undefined || fromEnvironment === '' ? undefined : fromEnvironment;
  }

  const token = (await readSetting(tokenFile, '--token-file')).trim();
  if (token === '') throw new Error(`--token-file ${tokenFile} is empty; put the token in it`);
  return token;
}

async function readTls(
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<{ cert: string; key: string } | undefined> {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new Error('--tls-cert and --tls-key go together; give both or neither');
  }
  return {
    cert: await readSetting(certFile, '--tls-cert'),
    key: await readSetting(keyFile, '--tls-key'),
  };
}

async function readSetting(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${option} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function listenArgument(value: string): ListenAddress {
  try {
    return parseListenAddress(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function nonNegativeInteger(value: string): number {
  const number = /^(0|[1-9][0-9]*)$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number)) {
    throw new InvalidArgumentError(`expected 0 or a positive integer, not "${value}"`);
  }
  return number;
}

function positiveInteger(value: string): number {
  const number = /^[1-9][0-9]*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number)) {
    throw new InvalidArgumentError(`expected a positive integer, not "${value}"`);
  }
  return number;
}
