#!/usr/bin/env node
import { QueueClient } from '@smtpq/protocol';
import { QueueBackend } from './backend.js';
import { BodyCache } from './body-cache.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { Counters } from './counters.js';
import { FdTransport } from './fd-transport.js';
import { ImsgReader } from './imsg.js';
import { chooseLayout } from './layout.js';
import { checkPlatform } from './libc.js';
import { createLogger, type Logger } from './log.js';
import { PendingDeletes } from './pending-deletes.js';
import { PendingMessages } from './pending-messages.js';
import { PoolMode, PoolStartError } from './pool-mode.js';
import { SeenEvpids } from './seen-evpids.js';
import { Session } from './session.js';
import { WalkReader } from './walk.js';

/** smtpd's end of the socketpair is dup2'ed onto fd 0 (fork_proc_backend in smtpd.c). */
const SMTPD_FD = 0;

function createClient(config: Config, retryBudgetMs: number, logger: Logger, counters: Counters) {
  return new QueueClient({
    url: config.url,
    token: config.token,
    ca: config.ca,
    timeoutMs: config.timeoutMs,
    retryBudgetMs,
    logger: {
      warn(fields: object, message: string) {
        counters.retry();
        logger.warn(fields, message);
      },
    },
  });
}

function readConfig(): Config {
  try {
    checkPlatform();
    return loadConfig(process.argv[2]);
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    createLogger('info').fatal(`cannot start: ${message}`);
    process.exit(1);
  }
}

/** Pool mode: acquires the node lease before smtpd gets any reply, or exits with the fix. */
async function startPoolMode(
  config: Config,
  clients: QueueClient[],
  logger: Logger,
  counters: Counters,
): Promise<PoolMode | null> {
  if (config.pool === null) return null;

  try {
    return await PoolMode.start({
      config: config.pool,
      url: config.url,
      configPath: process.argv[2] ?? '',
      leaseClient: createClient(
        config,
        Math.min(config.retryBudgetMs, config.pool.leaseRenewMs),
        logger,
        counters,
      ),
      clients,
      // Each takeover round makes one attempt per request, because the rounds are the retries.
      takeoverClient: createClient(config, 0, logger, counters),
      logger,
    });
  } catch (error) {
    if (!(error instanceof PoolStartError)) throw error;
    logger.fatal(`cannot start: ${error.message}`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const counters = new Counters();

  const layout = chooseLayout(config.imsgLayout);
  const layoutFields = { layout: layout.layout, reason: layout.reason };
  if (layout.tentative) {
    logger.warn(
      layoutFields,
      'imsg layout unknown; guessing pre-7.7 until a frame with an fd shows it ' +
        '(set imsgLayout to be sure)',
    );
  }

  const client = createClient(config, config.retryBudgetMs, logger, counters);
  const bounceClient = createClient(config, config.bounceRetryBudgetMs, logger, counters);
  // Each background pass makes one attempt per delete, because the passes are the retries.
  const deleteClient = createClient(config, 0, logger, counters);
  const pool = await startPoolMode(config, [client, bounceClient, deleteClient], logger, counters);

  let backend: QueueBackend | undefined;
  const pendingDeletes = new PendingDeletes({
    client: deleteClient,
    logger,
    counters,
    onDone: (evpid) => backend?.envelopeGone(evpid),
  });
  const seen = new SeenEvpids(pool !== null);
  const walk = new WalkReader({
    client,
    logger,
    counters,
    seen,
    textEnvelopes: config.textEnvelopes,
  });
  backend = new QueueBackend({
    client,
    bounceClient,
    logger,
    counters,
    seen,
    walk,
    pending: new PendingMessages(),
    pendingDeletes,
    bodies: new BodyCache(
      client,
      logger,
      config.retryBudgetMs,
      pool === null ? undefined : () => pool.keeper.surelyLive(),
    ),
    textEnvelopes: config.textEnvelopes,
    refusals: pool?.refusals,
    envelopeDeleted: (evpid) => pool?.envelopeDeleted(evpid),
  });

  const reader = new ImsgReader(layout.layout, {
    tentative: layout.tentative,
    onLayoutChange: (next) =>
      logger.warn({ layout: next }, 'imsg layout corrected from a frame with an fd'),
  });
  const session = new Session(new FdTransport(SMTPD_FD), reader, backend, logger);

  const logSummary = () => logger.info(counters.summary(), 'counters');
  if (config.statsIntervalMs > 0) setInterval(logSummary, config.statsIntervalMs).unref();

  const exit = (status: number) => {
    pendingDeletes.logLost();
    logSummary();
    process.exit(status);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      logger.info({ signal }, 'signal received; exiting');
      void (pool?.release() ?? Promise.resolve()).finally(() => exit(0));
    });
  }
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'unexpected error');
    exit(1);
  });

  logger.info(
    {
      url: config.url,
      ...layoutFields,
      retryBudgetMs: config.retryBudgetMs,
      timeoutMs: config.timeoutMs,
      ...(pool === null ? {} : { node: pool.keeper.node, leaseId: pool.keeper.lease?.leaseId }),
    },
    pool === null ? 'queue-rest started' : 'queue-rest started in pool mode',
  );
  walk.start();
  pool?.startTakeover({ seen, walk, whenIdle: () => session.whenIdle() });
  const status = await session.run();
  pool?.stopTakeover();

  // smtpd has gone and waits for no reply, so the failed deletes get one last bounded pass.
  if (status === 0 && pendingDeletes.size > 0) {
    logger.info(
      { pendingDeletes: pendingDeletes.size, timeoutMs: config.retryBudgetMs },
      'retrying pending envelope deletes before exit',
    );
    await pendingDeletes.flush(config.retryBudgetMs);
  }
  // After the flush, because the deletes act for this node and need its lease.
  await pool?.release();
  exit(status);
}

await main();
