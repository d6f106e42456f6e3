import { setTimeout as sleep } from 'node:timers/promises';
import type { Evpid, QueueClient } from '@smtpq/protocol';
import type { PoolConfig } from './config.js';
import type { Logger } from './log.js';
import { NodeLeaseKeeper, PoolStartError } from './pool-lease.js';
import { PoolRefusals } from './pool-refusals.js';
import type { SeenEvpids } from './seen-evpids.js';
import { smtpctlDiscover } from './smtpctl.js';
import { Takeover } from './takeover.js';
import type { WalkReader } from './walk.js';

/** Time in ms that releasing the node lease may delay the exit. */
const RELEASE_TIMEOUT_MS = 2_000;

export interface PoolModeOptions {
  config: PoolConfig;
  url: string;
  /** Path of the configuration file, named in the message of a duplicate node name. */
  configPath: string;
  /** Client of the lease requests. */
  leaseClient: QueueClient;
  /** Clients of smtpd's requests; each gets the node headers. */
  clients: QueueClient[];
  /** Client of the takeover, with no retries: each round is one try. */
  takeoverClient: QueueClient;
  logger: Logger;
}

/**
 * queue-rest in a pool of smtpd sharing one queue: the node lease, the handling of requests
 * the frontend refuses (not-owner, lease-lost), and the takeover of the mail of dead nodes.
 */
export class PoolMode {
  readonly keeper: NodeLeaseKeeper;
  readonly refusals: PoolRefusals;
  private takeover: Takeover | undefined;

  private constructor(private readonly options: PoolModeOptions) {
    const { config, logger } = options;
    this.keeper = new NodeLeaseKeeper({
      client: options.leaseClient,
      clients: [...options.clients, options.takeoverClient],
      url: options.url,
      configWhere: `the configuration file ${options.configPath}`,
      node: config.node,
      ttlMs: config.leaseTtlMs,
      renewMs: config.leaseRenewMs,
      logger,
    });
    this.refusals = new PoolRefusals({ logger, leaseLost: () => this.keeper.check() });
  }

  /**
   * Acquires the node lease, before smtpd gets any reply. Throws PoolStartError when the
   * frontend lacks the pool feature, another process has a live lease of the node name, or the frontend
   * cannot be reached.
   */
  static async start(options: PoolModeOptions): Promise<PoolMode> {
    const mode = new PoolMode(options);
    await mode.keeper.start();
    return mode;
  }

  /** Starts the takeover rounds; they wait for the end of the start-up walk. */
  startTakeover(parts: { seen: SeenEvpids; walk: WalkReader; whenIdle: () => Promise<void> }) {
    const { config, logger, takeoverClient } = this.options;
    this.takeover = new Takeover({
      client: takeoverClient,
      lease: this.keeper,
      seen: parts.seen,
      walk: parts.walk,
      whenIdle: parts.whenIdle,
      discover: (evpid) => smtpctlDiscover(config.smtpctl, evpid),
      logger,
      intervalMs: config.takeoverIntervalMs,
      claimBatch: config.claimBatch,
    });
    this.takeover.start();
  }

  envelopeDeleted(evpid: Evpid): void {
    this.takeover?.envelopeDeleted(evpid);
  }

  stopTakeover(): void {
    this.takeover?.stop();
  }

  /**
   * Releases the lease once smtpd has stopped using the queue, so that a restart can acquire
   * it at once and the other nodes take this node's mail over meanwhile. It waits at most
   * RELEASE_TIMEOUT_MS; a lease that was not released expires by itself.
   */
  async release(): Promise<void> {
    this.stopTakeover();
    await Promise.race([this.keeper.release(), sleep(RELEASE_TIMEOUT_MS)]);
  }
}

export { PoolStartError };
