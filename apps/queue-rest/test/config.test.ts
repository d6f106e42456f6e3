import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, DEFAULT_POOL_CONFIG, loadConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'queue-rest-config-'));

function configFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('URL argument takes every default', () => {
    const config = loadConfig('http://127.0.0.1:8025');

    expect(config).toEqual({
      url: 'http://127.0.0.1:8025',
      token: undefined,
      ca: undefined,
      ...DEFAULT_CONFIG,
    });
    expect(config.retryBudgetMs).toBe(4000);
    expect(config.bounceRetryBudgetMs).toBe(60000);
    expect(config.statsIntervalMs).toBe(60000);
    expect(config.imsgLayout).toBe('auto');
    expect(config.pool).toBeNull();
  });

  it('file argument reads every key', () => {
    const tokenFile = configFile('token', 's3cret-token\n');
    const caFile = configFile('ca.pem', '-----BEGIN CERTIFICATE-----\n');
    const path = configFile('full.json', {
      url: 'https://127.0.0.1:8443',
      tokenFile,
      caFile,
      timeoutMs: 1500,
      retryBudgetMs: 100,
      bounceRetryBudgetMs: 9000,
      logLevel: 'debug',
      imsgLayout: '7.7',
      statsIntervalMs: 0,
      textEnvelopes: false,
    });

    expect(loadConfig(path)).toEqual({
      url: 'https://127.0.0.1:8443',
      token: 's3cret-token',
      ca: '-----BEGIN CERTIFICATE-----\n',
      timeoutMs: 1500,
      retryBudgetMs: 100,
      bounceRetryBudgetMs: 9000,
      logLevel: 'debug',
      imsgLayout: '7.7',
      statsIntervalMs: 0,
      textEnvelopes: false,
      pool: null,
    });
  });

  it('pool mode reads every pool key', () => {
    const path = configFile('pool-full.json', {
      url: 'http://127.0.0.1:8025',
      pool: true,
      node: 'mx-2.example',
      leaseTtlMs: 20_000,
      leaseRenewMs: 5_000,
      takeoverIntervalMs: 3_000,
      claimBatch: 10,
      smtpctl: '/usr/local/sbin/smtpctl',
    });

    expect(loadConfig(path).pool).toEqual({
      node: 'mx-2.example',
      leaseTtlMs: 20_000,
      leaseRenewMs: 5_000,
      takeoverIntervalMs: 3_000,
      claimBatch: 10,
      smtpctl: '/usr/local/sbin/smtpctl',
    });
  });

  it('pool mode defaults the node to the host name', () => {
    const path = configFile('pool-defaults.json', { url: 'http://127.0.0.1:8025', pool: true });
    const name = hostname().toLowerCase();

    // The test machine's host name must itself be a valid node name for this case.
    expect(name).toMatch(/^[a-z0-9][a-z0-9._-]{0,62}$/);
    expect(loadConfig(path).pool).toEqual({ node: name, ...DEFAULT_POOL_CONFIG });
  });

  const bad: Array<[string, () => string | undefined, RegExp]> = [
    ['missing ARG', () => undefined, /missing ARG/],
    ['other scheme', () => 'ftp://127.0.0.1/', /must start with http:\/\/ or https:\/\//],
    [
      'URL with credentials',
      () => 'http://user:pw@127.0.0.1:8025',
      /must not contain .*credentials/,
    ],
    [
      'unreadable path',
      () => join(dir, 'absent.json'),
      /neither an http\(s\) URL nor a readable configuration file/,
    ],
    ['invalid JSON', () => configFile('broken.json', '{ url: '), /is not valid JSON/],
    ['not an object', () => configFile('array.json', [1]), /must be a JSON object/],
    [
      'unknown key',
      () => configFile('extra.json', { url: 'http://127.0.0.1:1', retries: 3 }),
      /unknown key "retries"/,
    ],
    ['missing url', () => configFile('nourl.json', {}), /url is missing/],
    [
      'negative budget',
      () => configFile('neg.json', { url: 'http://127.0.0.1:1', retryBudgetMs: -1 }),
      /retryBudgetMs is -1/,
    ],
    [
      'zero timeout',
      () => configFile('zero.json', { url: 'http://127.0.0.1:1', timeoutMs: 0 }),
      /timeoutMs is 0/,
    ],
    [
      'bad layout',
      () => configFile('layout.json', { url: 'http://127.0.0.1:1', imsgLayout: '7.6' }),
      /imsgLayout is "7.6"; it must be one of "auto", "pre-7.7", "7.7"/,
    ],
    [
      'bad level',
      () => configFile('level.json', { url: 'http://127.0.0.1:1', logLevel: 'loud' }),
      /logLevel is "loud"/,
    ],
    [
      'absent token file',
      () => configFile('tok.json', { url: 'http://127.0.0.1:1', tokenFile: join(dir, 'none') }),
      /tokenFile .* cannot be read/,
    ],
    [
      'pool that is not a boolean',
      () => configFile('pool-str.json', { url: 'http://127.0.0.1:1', pool: 'yes' }),
      /pool must be true or false/,
    ],
    [
      'pool key without pool',
      () => configFile('pool-off.json', { url: 'http://127.0.0.1:1', node: 'mx1' }),
      /key node applies only in pool mode; set pool to true or remove the key/,
    ],
    [
      'upper-case node',
      () => configFile('pool-node.json', { url: 'http://127.0.0.1:1', pool: true, node: 'MX1' }),
      /node is "MX1"; it must be 1 to 63 characters of a-z/,
    ],
    [
      'node with a slash',
      () => configFile('pool-slash.json', { url: 'http://127.0.0.1:1', pool: true, node: 'a/b' }),
      /node is "a\/b"/,
    ],
    [
      'lease shorter than 1 s',
      () =>
        configFile('pool-ttl.json', {
          url: 'http://127.0.0.1:1',
          pool: true,
          node: 'mx1',
          leaseTtlMs: 999,
        }),
      /leaseTtlMs is 999; it must be an integer from 1000 to 600000/,
    ],
    [
      'renewal slower than half the lease',
      () =>
        configFile('pool-renew.json', {
          url: 'http://127.0.0.1:1',
          pool: true,
          node: 'mx1',
          leaseTtlMs: 10_000,
          leaseRenewMs: 6_000,
        }),
      /leaseRenewMs 6000 must be at most half of leaseTtlMs 10000/,
    ],
    [
      'claim batch of 0',
      () =>
        configFile('pool-batch.json', {
          url: 'http://127.0.0.1:1',
          pool: true,
          node: 'mx1',
          claimBatch: 0,
        }),
      /claimBatch is 0; it must be an integer from 1 to 1000/,
    ],
    [
      'relative smtpctl',
      () =>
        configFile('pool-smtpctl.json', {
          url: 'http://127.0.0.1:1',
          pool: true,
          node: 'mx1',
          smtpctl: 'smtpctl',
        }),
      /smtpctl is "smtpctl"; it must be the absolute path of smtpctl/,
    ],
    [
      'empty token',
      () =>
        configFile('emptytok.json', {
          url: 'http://127.0.0.1:1',
          tokenFile: configFile('empty', '\n'),
        }),
      /must contain the token alone/,
    ],
  ];

  for (const [name, arg, message] of bad) {
    it(`rejects ${name}`, () => {
      let thrown: unknown;
      try {
        loadConfig(arg());
      } catch (error) {
        thrown = error;
      }

      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as Error).message).toMatch(message);
    });
  }

  it('never puts the token in an error message', () => {
    const tokenFile = configFile('secret', 'top secret\n');

    expect(() =>
      loadConfig(configFile('t.json', { url: 'http://127.0.0.1:1', tokenFile })),
    ).toThrow(/^(?!.*top secret).*$/);
  });
});
