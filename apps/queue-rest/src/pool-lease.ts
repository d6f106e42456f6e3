import type { NodeContext, NodeLease, QueueClient } from '@smtpq/protocol';
import { describeError, errorDetail, hasCode } from './errors.js';
import type { Logger } from './log.js';

export interface LeaseKeeperOptions {
  /** Client of the lease requests. */
  client: QueueClient;
  /** Every client whose requests act for this node; each gets the node headers. */
  clients: QueueClient[];
  url: string;
  /** The configuration file that sets the node name, named in the message of a duplicate. */
  configWhere: string;
  node: string;
  ttlMs: number;
  renewMs: number;
  logger: Logger;
}

/** Pool mode cannot start: wrong frontend, duplicate node name, or no frontend at all. */
export class PoolStartError extends Error {
  override readonly name = 'PoolStartError';
}

/**
 * Holds this node's lease: acquires it at start, renews it every `renewMs`, and acquires a new
 * one (a new leaseId) when the frontend reports the lease lost. Every client that acts for the
 * node carries the current lease in its node headers. Between the loss and the new lease, the
 * requests carry the lost lease and fail, so smtpd gets temporary failures.
 */
export class NodeLeaseKeeper {
  private current: NodeLease | null = null;
  /** performance.now() before which the lease is live by any clock: see `surelyLive`. */
  private liveUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private checkRequested = false;
  private stopped = false;
  /** Renewals or acquires that failed in a row, to thin out the log in a long outage. */
  private failures = 0;

  constructor(private readonly options: LeaseKeeperOptions) {}

  get node(): string {
    return this.options.node;
  }

  /** The lease in use, or null before the first acquire and after a loss. */
  get lease(): NodeLease | null {
    return this.current;
  }

  /**
   * Returns whether the lease is live for sure: its remaining time is counted from before the
   * request that granted it. Once this is false, other nodes may have claimed this node's mail
   * without it hearing of it, while the frontend could not be reached.
   */
  surelyLive(): boolean {
    return this.current !== null && performance.now() < this.liveUntil;
  }

  /**
   * Checks that the frontend speaks the pool protocol and acquires the lease. Throws
   * PoolStartError with the operator's fix when it cannot.
   */
  async start(): Promise<void> {
    const { client, url, node, ttlMs, configWhere } = this.options;

    let features: readonly string[];
    try {
      features = (await client.info()).features;
    } catch (error) {
      throw new PoolStartError(
        `pool mode needs a node lease, but the frontend at ${url} did not respond to GET /v1: ` +
          `${describeError(error).error}; start the frontend before smtpd`,
      );
    }
    if (!features.includes('pool')) {
      throw new PoolStartError(
        `frontend ${url} lacks the pool feature; remove pool from ${configWhere} or ` +
          'upgrade the frontend',
      );
    }

    try {
      const sentAt = performance.now();
      this.use(await client.nodeLeaseAcquire(node, { ttlMs }), sentAt);
    } catch (error) {
      if (hasCode(error, 'lease-held')) {
        const remainingMs = Number(errorDetail(error, 'remainingMs'));
        const remaining = Number.isFinite(remainingMs)
          ? `${Math.ceil(remainingMs / 1000)} s`
          : 'a while';
        throw new PoolStartError(
          `node ${node} holds a live lease at ${url} for ${remaining} more: another queue-rest ` +
            `runs under this name, or one stopped without releasing it. Node names must be ` +
            `unique: set node in ${configWhere}`,
        );
      }
      throw new PoolStartError(
        `pool mode needs a node lease, but acquiring the lease of node ${node} at ${url} ` +
          `failed: ${describeError(error).error}`,
      );
    }
    this.schedule();
  }

  /**
   * Asks for a renewal now, after a request failed with lease-lost. The renewal shows whether
   * the current lease is gone (and then acquires a new one) or the request used an older one.
   */
  check(): void {
    if (this.stopped) return;
    this.checkRequested = true;
    if (this.running !== undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.runStep();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Releases the lease when smtpd has stopped, so that a restart can acquire it at once, and
   * the other nodes can take over this node's mail meanwhile. Failures are only logged.
   */
  async release(): Promise<void> {
    this.stop();
    await this.running;

    const lease = this.current;
    if (lease === null) return;
    try {
      await this.options.client.nodeLeaseRelease(this.options.node, { leaseId: lease.leaseId });
      this.options.logger.info({ node: this.options.node }, 'node lease released');
    } catch (error) {
      this.options.logger.warn(
        { node: this.options.node, ...describeError(error) },
        'node lease release failed; the lease expires by itself',
      );
    }
  }

  private use(lease: NodeLease, sentAt: number): void {
    this.current = lease;
    this.liveUntil = sentAt + lease.remainingMs;
    const context: NodeContext = { name: lease.node, leaseId: lease.leaseId };
    for (const client of this.options.clients) client.setNode(context);
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined || this.running !== undefined) return;

    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runStep();
    }, this.options.renewMs);
    this.timer.unref();
  }

  private runStep(): void {
    this.checkRequested = false;
    this.running = this.step().finally(() => {
      this.running = undefined;
      if (this.checkRequested) this.check();
      else this.schedule();
    });
  }

  /** Renews the lease, or acquires a new one when there is none. */
  private async step(): Promise<void> {
    const lease = this.current;
    if (lease === null) {
      await this.acquire();
      return;
    }

    const { client, node, ttlMs, logger } = this.options;
    try {
      const sentAt = performance.now();
      this.use(await client.nodeLeaseRenew(node, lease.leaseId, { ttlMs }), sentAt);
      this.succeeded();
    } catch (error) {
      if (!hasCode(error, 'lease-lost')) {
        this.failed(error, 'node lease renewal failed; retrying at the next renewal');
        return;
      }
      logger.warn(
        { node, leaseId: lease.leaseId },
        'node lease lost (expired, released, or taken); acquiring a new one. Other nodes may ' +
          'have claimed some of its messages, and requests for them now fail',
      );
      this.current = null;
      await this.acquire();
    }
  }

  private async acquire(): Promise<void> {
    const { client, node, ttlMs, logger } = this.options;
    try {
      const sentAt = performance.now();
      const lease = await client.nodeLeaseAcquire(node, { ttlMs });
      this.use(lease, sentAt);
      this.succeeded();
      logger.info({ node, leaseId: lease.leaseId, ttlMs }, 'node lease acquired');
    } catch (error) {
      const message = hasCode(error, 'lease-held')
        ? 'node lease acquire failed: another process holds a live lease of this node name; ' +
          'node names must be unique'
        : 'node lease acquire failed; retrying at the next renewal';
      this.failed(error, message);
    }
  }

  private succeeded(): void {
    if (this.failures > 0) {
      this.options.logger.info({ failures: this.failures }, 'node lease renewed after failures');
    }
    this.failures = 0;
  }

  private failed(error: unknown, message: string): void {
    this.failures += 1;
    // A long outage would log a line per renewal: after the first three, one in 30.
    if (this.failures <= 3 || this.failures % 30 === 0) {
      this.options.logger.warn(
        { node: this.options.node, failures: this.failures, ...describeError(error) },
        message,
      );
    }
  }
}
