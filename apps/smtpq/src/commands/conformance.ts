import { readFile } from 'node:fs/promises';
import { DEFAULT_SETTINGS, runHttpSuite } from '@smtpq/conformance';
import { type Command, InvalidArgumentError, Option } from 'commander';

interface ConformanceFlags {
  url: string;
  url2?: string;
  tokenFile?: string;
  only?: string;
  rounds: number;
  largeBodyBytes: number;
}

/** Destination of the command's output lines; tests pass their own. */
export interface ConformanceOutput {
  line(text: string): void;
}

const STDOUT: ConformanceOutput = { line: (text) => process.stdout.write(`${text}\n`) };

/**
 * Adds `conformance` to `program`: runs the HTTP conformance suite against a frontend, prints
 * one line per case and the counts last, and sets a non-zero exit code when a case fails.
 */
export function registerConformance(program: Command, output: ConformanceOutput = STDOUT): Command {
  return program
    .command('conformance')
    .description(
      'Run the conformance suite against a frontend. Every case writes under random msgids and ' +
        'deletes them afterwards; prefer a test store.',
    )
    .addOption(
      new Option('--url <url>', 'base URL of the frontend, without /v1')
        .argParser(httpUrl)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--url2 <url>',
        'a second frontend process of the same store, for the two-frontend cases',
      ).argParser(httpUrl),
    )
    .option(
      '--token-file <file>',
      'file with the bearer token of the frontends; the auth cases run only with one',
    )
    .option(
      '--only <pattern>',
      'run only the cases whose name contains PATTERN (* matches anything)',
    )
    .addOption(
      new Option('--rounds <count>', 'rounds of the two-frontend If-Match race (fc-03)')
        .argParser(positiveInteger)
        .default(DEFAULT_SETTINGS.rounds),
    )
    .addOption(
      new Option(
        '--large-body-bytes <bytes>',
        'size of the largest body sent and read back, in bytes',
      )
        .argParser(positiveInteger)
        .default(DEFAULT_SETTINGS.largeBodyBytes),
    )
    .action(async (flags: ConformanceFlags) => {
      const token = flags.tokenFile === undefined ? undefined : await readToken(flags.tokenFile);
      const counts = await runHttpSuite({
        url: flags.url,
        url2: flags.url2,
        token,
        only: flags.only,
        rounds: flags.rounds,
        largeBodyBytes: flags.largeBodyBytes,
        log: (text) => output.line(text),
      });
      if (counts.failed > 0 || counts.passed === 0) process.exitCode = 1;
    });
}

async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read --token-file ${file}: ${(error as Error).message}`);
  }
  const token = text.trim();
  if (token === '')
    throw new InvalidArgumentError(`--token-file ${file} is empty; put the token in it`);
  return token;
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a URL; give one such as http://127.0.0.1:8025`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`${value} is not an http or https URL`);
  }
  if (url.pathname.replace(/\/+$/, '').endsWith('/v1')) {
    throw new InvalidArgumentError(`${value} ends with /v1; give the base URL without it`);
  }
  return value;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a positive integer`);
  }
  return number;
}
