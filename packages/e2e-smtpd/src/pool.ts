import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type LinkProxy, startLinkProxy } from './link-proxy.js';
import { track } from './processes.js';
import type { SmtpSink } from './sink.js';
import { type SmtpdInstance, type SmtpdOptions, startSmtpd } from './smtpd.js';

/**
 * Lease timing of a test pool, far shorter than the defaults (lease 30 s, renew 10 s, takeover
 * 10 s, claim grace 10 s) so that a takeover happens within seconds.
 */
export interface PoolTiming {
  leaseTtlMs: number;
  leaseRenewMs: number;
  takeoverIntervalMs: number;
  /** The frontend's claim grace: its `--claim-grace` in ms. */
  claimGraceMs: number;
}

/**
 * The lease leaves 6 s for a renewal to get through, so that a renewal slowed down by a loaded
 * machine (other test files run at the same time) does not cost a healthy node its lease.
 */
export const testPoolTiming: PoolTiming = {
  leaseTtlMs: 8_000,
  leaseRenewMs: 2_000,
  takeoverIntervalMs: 1_000,
  claimGraceMs: 2_000,
};

/** Arguments of `smtpq serve` that give a frontend the claim grace of `timing`. */
export function poolFrontendArgs(timing: PoolTiming = testPoolTiming): string[] {
  return ['--claim-grace', String(timing.claimGraceMs)];
}

export interface PoolNodeOptions {
  /** Node name, unique in the pool: queue-rest's `node`. */
  name: string;
  /** Loopback address the node's smtpd listens on and relays from, such as 127.0.0.2. */
  address: string;
  /** URL of the shared frontend. */
  frontendUrl: string;
  /** The relay that receives mail for relay.test. */
  sink: SmtpSink;
  timing?: PoolTiming;
  /**
   * The node's path to the frontend. A restarted node passes its old proxy; a new proxy is
   * started when absent.
   */
  proxy?: LinkProxy;
  /** Further keys of queue-rest's configuration file, such as `claimBatch`. */
  queueRest?: Record<string, unknown>;
  /** Further options of smtpd. */
  smtpd?: Partial<SmtpdOptions>;
}

/** One MX of a pool: smtpd, its queue-rest in pool mode, and its own path to the frontend. */
export interface PoolNode {
  readonly name: string;
  readonly address: string;
  readonly proxy: LinkProxy;
  readonly smtpd: SmtpdInstance;
  /** queue-rest's configuration file, the ARG of `-B queue=rest:ARG`. */
  readonly configPath: string;
}

let configDir: string | null = null;

/** Returns a folder for queue-rest configuration files, removed after the test file. */
function poolConfigDir(): string {
  if (configDir !== null) {
    return configDir;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-pool-'));
  configDir = dir;
  track({
    name: `pool configuration folder ${dir}`,
    stop: async () => {
      configDir = null;
      if (process.env.SMTPQ_E2E_KEEP === undefined) {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  });
  return dir;
}

/** Writes queue-rest's JSON configuration file for a pool node and returns its path. */
export function writePoolConfig(
  name: string,
  proxyUrl: string,
  timing: PoolTiming,
  extra: Record<string, unknown> = {},
): string {
  const config = {
    url: proxyUrl,
    pool: true,
    node: name,
    leaseTtlMs: timing.leaseTtlMs,
    leaseRenewMs: timing.leaseRenewMs,
    takeoverIntervalMs: timing.takeoverIntervalMs,
    ...extra,
  };
  // A restart of the same node gets a new file, so the old node's file stays for a post-mortem.
  const dir = mkdtempSync(path.join(poolConfigDir(), `${name}-`));
  const configPath = path.join(dir, 'queue-rest.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return configPath;
}

/**
 * Starts one pool node: a link proxy to the frontend (unless given), queue-rest's
 * configuration, and smtpd in a mount namespace of its own, listening on `address`.
 */
export async function startPoolNode(options: PoolNodeOptions): Promise<PoolNode> {
  const timing = options.timing ?? testPoolTiming;
  const proxy = options.proxy ?? (await startLinkProxy(options.frontendUrl));
  const configPath = writePoolConfig(options.name, proxy.url, timing, options.queueRest);

  const smtpd = await startSmtpd({
    queue: { restArg: configPath },
    listenAddress: options.address,
    relay: { host: '127.0.0.1', port: options.sink.port, source: options.address },
    ...options.smtpd,
  });
  return { name: options.name, address: options.address, proxy, smtpd, configPath };
}
