import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../src/config.js';

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
    });
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
