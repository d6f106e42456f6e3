import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isNodeName, MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '@smtpq/protocol';

export type LayoutSetting = 'auto' | 'pre-7.7' | '7.7';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** queue-rest settings, from the ARG that smtpd passes (`-B queue=rest:ARG`). */
export interface Config {
  /** Frontend base URL without `/v1`. */
  url: string;
  /** Bearer token, read from `tokenFile`. */
  token: string | undefined;
  /** PEM CA certificates for an https frontend, read from `caFile`. */
  ca: string | undefined;
  /** Per-request HTTP timeout in ms. */
  timeoutMs: number;
  /** Time in ms spent retrying one call after its first failure, before smtpd gets a failure. */
  retryBudgetMs: number;
  /** Retry budget in ms of a bounce envelope create, which smtpd would otherwise lose. */
  bounceRetryBudgetMs: number;
  logLevel: LogLevel;
  imsgLayout: LayoutSetting;
  /** Period in ms of the counter summary in the log; 0 logs it only at exit. */
  statsIntervalMs: number;
  /**
   * Whether an envelope must be text to reach smtpd. smtpd writes text envelopes unless
   * smtpd.conf has `queue encryption` or `queue compression`; then set this to false.
   */
  textEnvelopes: boolean;
  /** Pool mode settings, or null when this smtpd uses the queue alone. */
  pool: PoolConfig | null;
}

/** Settings of pool mode: several smtpd share the queue, each under its own node name. */
export interface PoolConfig {
  /** Node name of this smtpd in the pool, unique among the nodes. */
  node: string;
  /** Lifetime in ms of the node lease, from its last renewal. */
  leaseTtlMs: number;
  /** Period in ms of the lease renewals. */
  leaseRenewMs: number;
  /** Period in ms of the rounds that look for the messages of dead nodes to take over. */
  takeoverIntervalMs: number;
  /** Maximum messages claimed per takeover round. */
  claimBatch: number;
  /** Path of smtpctl, run as `smtpctl discover EVPID` for each envelope taken over. */
  smtpctl: string;
}

export const DEFAULT_POOL_CONFIG = {
  leaseTtlMs: 30_000,
  leaseRenewMs: 10_000,
  takeoverIntervalMs: 10_000,
  claimBatch: 50,
  smtpctl: '/usr/sbin/smtpctl',
} as const satisfies Partial<PoolConfig>;

/** Maximum `claimBatch`: each claim is one request, and a round sends them one at a time. */
export const MAX_CLAIM_BATCH = 1000;

export const DEFAULT_CONFIG = {
  timeoutMs: 5_000,
  retryBudgetMs: 4_000,
  bounceRetryBudgetMs: 60_000,
  logLevel: 'info',
  imsgLayout: 'auto',
  statsIntervalMs: 60_000,
  textEnvelopes: true,
  pool: null,
} as const satisfies Partial<Config>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const LAYOUTS: readonly LayoutSetting[] = ['auto', 'pre-7.7', '7.7'];

const FILE_KEYS = [
  'url',
  'tokenFile',
  'caFile',
  'timeoutMs',
  'retryBudgetMs',
  'bounceRetryBudgetMs',
  'logLevel',
  'imsgLayout',
  'statsIntervalMs',
  'textEnvelopes',
  'pool',
  'node',
  'leaseTtlMs',
  'leaseRenewMs',
  'takeoverIntervalMs',
  'claimBatch',
  'smtpctl',
] as const;

/** Keys that only pool mode reads. One of them without `pool: true` is rejected as a mistake. */
const POOL_KEYS = [
  'node',
  'leaseTtlMs',
  'leaseRenewMs',
  'takeoverIntervalMs',
  'claimBatch',
  'smtpctl',
] as const;

const USAGE =
  'run queue-rest as smtpd -B queue=rest:URL (such as rest:http://127.0.0.1:8025) ' +
  'or smtpd -B queue=rest:/path/to/config.json';

/** A bad ARG or configuration file; queue-rest logs the message and exits with status 1. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function checkUrl(value: unknown, where: string): string {
  if (typeof value !== 'string') {
    throw new ConfigError(`${where}: url is missing or not a string; give the frontend base URL`);
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${where}: url ${JSON.stringify(value)} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `${where}: url ${JSON.stringify(value)} must start with http:// or https://`,
    );
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(
      `${where}: url ${JSON.stringify(value)} must not contain a query, a fragment or ` +
        'credentials; put the token in tokenFile',
    );
  }
  return value;
}

function checkMs(
  raw: Record<string, unknown>,
  key: string,
  where: string,
  minimum: number,
): number | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new ConfigError(
      `${where}: ${key} is ${JSON.stringify(value)}; ` +
        `it must be an integer number of milliseconds, at least ${minimum}`,
    );
  }
  return value;
}

function checkCount(
  raw: Record<string, unknown>,
  key: string,
  where: string,
  range: { min: number; max: number },
): number | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    throw new ConfigError(
      `${where}: ${key} is ${JSON.stringify(value)}; ` +
        `it must be an integer from ${range.min} to ${range.max}`,
    );
  }
  return value;
}

function checkChoice<T extends string>(
  raw: Record<string, unknown>,
  key: string,
  choices: readonly T[],
  where: string,
): T | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    const list = choices.map((choice) => JSON.stringify(choice)).join(', ');
    throw new ConfigError(
      `${where}: ${key} is ${JSON.stringify(value)}; it must be one of ${list}`,
    );
  }
  return value as T;
}

function readTextFile(path: unknown, key: string, where: string): string {
  if (typeof path !== 'string' || path === '') {
    throw new ConfigError(`${where}: ${key} must be a path to a file`);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${where}: ${key} ${path} cannot be read: ${(error as Error).message}`);
  }
}

function readToken(path: unknown, where: string): string {
  const token = readTextFile(path, 'tokenFile', where).trim();
  if (token === '' || /\s/.test(token)) {
    throw new ConfigError(
      `${where}: tokenFile ${String(path)} must contain the token alone on one line`,
    );
  }
  return token;
}

/** Returns the default node name: the host name in lower case, which must be a valid name. */
function defaultNodeName(where: string): string {
  const name = hostname().toLowerCase();
  if (isNodeName(name)) return name;
  throw new ConfigError(
    `${where}: pool mode needs a node name, and the host name ${JSON.stringify(name)} is not ` +
      "a valid one (1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter " +
      'or digit); set node in the configuration',
  );
}

function checkNode(value: unknown, where: string): string {
  if (value === undefined) return defaultNodeName(where);
  if (typeof value !== 'string' || !isNodeName(value)) {
    throw new ConfigError(
      `${where}: node is ${JSON.stringify(value)}; it must be 1 to 63 characters of a-z, 0-9, ` +
        "'.', '_' and '-', starting with a letter or digit (a lower-case host name)",
    );
  }
  return value;
}

function parsePoolConfig(record: Record<string, unknown>, where: string): PoolConfig | null {
  const pool = record.pool;
  if (pool !== undefined && typeof pool !== 'boolean') {
    throw new ConfigError(`${where}: pool must be true or false`);
  }
  if (pool !== true) {
    const stray = POOL_KEYS.filter((key) => record[key] !== undefined);
    if (stray.length > 0) {
      const keys =
        stray.length === 1 ? `key ${stray[0]} applies` : `keys ${stray.join(', ')} apply`;
      throw new ConfigError(
        `${where}: ${keys} only in pool mode; set pool to true or remove ` +
          (stray.length === 1 ? 'the key' : 'the keys'),
      );
    }
    return null;
  }

  const leaseTtlMs =
    checkCount(record, 'leaseTtlMs', where, { min: MIN_LEASE_TTL_MS, max: MAX_LEASE_TTL_MS }) ??
    DEFAULT_POOL_CONFIG.leaseTtlMs;
  const leaseRenewMs =
    checkCount(record, 'leaseRenewMs', where, { min: 100, max: MAX_LEASE_TTL_MS }) ??
    DEFAULT_POOL_CONFIG.leaseRenewMs;
  // A renewal must reach the frontend before the lease expires, with room for one failure.
  if (leaseRenewMs * 2 > leaseTtlMs) {
    throw new ConfigError(
      `${where}: leaseRenewMs ${leaseRenewMs} must be at most half of leaseTtlMs ` +
        `${leaseTtlMs}, so that the lease survives one failed renewal`,
    );
  }

  const smtpctl = record.smtpctl ?? DEFAULT_POOL_CONFIG.smtpctl;
  if (typeof smtpctl !== 'string' || !smtpctl.startsWith('/')) {
    throw new ConfigError(
      `${where}: smtpctl is ${JSON.stringify(smtpctl)}; it must be the absolute path of ` +
        'smtpctl, because smtpd starts queue-rest with a minimal PATH',
    );
  }

  return {
    node: checkNode(record.node, where),
    leaseTtlMs,
    leaseRenewMs,
    takeoverIntervalMs:
      checkCount(record, 'takeoverIntervalMs', where, { min: 100, max: 3_600_000 }) ??
      DEFAULT_POOL_CONFIG.takeoverIntervalMs,
    claimBatch:
      checkCount(record, 'claimBatch', where, { min: 1, max: MAX_CLAIM_BATCH }) ??
      DEFAULT_POOL_CONFIG.claimBatch,
    smtpctl,
  };
}

function parseFileConfig(raw: unknown, where: string): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where}: the configuration must be a JSON object`);
  }
  const record = raw as Record<string, unknown>;

  const unknownKeys = Object.keys(record).filter(
    (key) => !(FILE_KEYS as readonly string[]).includes(key),
  );
  if (unknownKeys.length > 0) {
    throw new ConfigError(
      `${where}: unknown key ${unknownKeys.map((key) => JSON.stringify(key)).join(', ')}; ` +
        `the keys are ${FILE_KEYS.join(', ')}`,
    );
  }

  const textEnvelopes = record.textEnvelopes;
  if (textEnvelopes !== undefined && typeof textEnvelopes !== 'boolean') {
    throw new ConfigError(`${where}: textEnvelopes must be true or false`);
  }

  return {
    url: checkUrl(record.url, where),
    token: record.tokenFile === undefined ? undefined : readToken(record.tokenFile, where),
    ca: record.caFile === undefined ? undefined : readTextFile(record.caFile, 'caFile', where),
    timeoutMs: checkMs(record, 'timeoutMs', where, 1) ?? DEFAULT_CONFIG.timeoutMs,
    retryBudgetMs: checkMs(record, 'retryBudgetMs', where, 0) ?? DEFAULT_CONFIG.retryBudgetMs,
    bounceRetryBudgetMs:
      checkMs(record, 'bounceRetryBudgetMs', where, 0) ?? DEFAULT_CONFIG.bounceRetryBudgetMs,
    logLevel: checkChoice(record, 'logLevel', LOG_LEVELS, where) ?? DEFAULT_CONFIG.logLevel,
    imsgLayout: checkChoice(record, 'imsgLayout', LAYOUTS, where) ?? DEFAULT_CONFIG.imsgLayout,
    statsIntervalMs: checkMs(record, 'statsIntervalMs', where, 0) ?? DEFAULT_CONFIG.statsIntervalMs,
    textEnvelopes: textEnvelopes ?? DEFAULT_CONFIG.textEnvelopes,
    pool: parsePoolConfig(record, where),
  };
}

/**
 * Reads the configuration from smtpd's ARG: a frontend URL (every other setting at its
 * default), or the path of a JSON configuration file.
 */
export function loadConfig(arg: string | undefined): Config {
  if (arg === undefined || arg === '') {
    throw new ConfigError(`missing ARG: ${USAGE}`);
  }

  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    return parseFileConfig({ url: arg }, 'ARG');
  }

  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `ARG ${JSON.stringify(arg)} is neither an http(s) URL nor a readable configuration ` +
        `file (${(error as Error).message}); ${USAGE}`,
    );
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `configuration file ${arg} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return parseFileConfig(raw, `configuration file ${arg}`);
}
