import type { ServiceInfo } from '@smtpq/protocol';
import { errorText } from '../failure.js';
import {
  type CaseOutcome,
  caseFilter,
  countOutcome,
  emptyCounts,
  formatOutcome,
  formatSummary,
  type SuiteCounts,
} from '../results.js';
import type { CaseContext, Need, SuiteCase, SuiteSettings } from './case-types.js';
import { HTTP_CASES } from './cases/index.js';
import { runDataCase } from './data-runner.js';
import { describeResponse, HttpClient, parseJson } from './http-client.js';
import { CaseVars } from './vars.js';

export interface HttpSuiteOptions {
  /** Base URL of the frontend under test, without `/v1`. */
  url: string;
  /** A second frontend of the same store, for the cases that need two processes. */
  url2?: string;
  /** Bearer token of the frontends; the auth cases run only with one. */
  token?: string;
  /** Runs only the cases whose name contains this pattern (`*` matches anything). */
  only?: string;
  /** Receives each output line: one per case, then the counts. */
  log?: (line: string) => void;
  /** Rounds of the two-frontend If-Match race (FC-03); 100 by default. */
  rounds?: number;
  /** Size in bytes of the largest body sent and read back; 40 MiB by default. */
  largeBodyBytes?: number;
}

export const DEFAULT_SETTINGS: SuiteSettings = { rounds: 100, largeBodyBytes: 40 * 1024 * 1024 };

/**
 * Runs the HTTP suite against a frontend and returns the counts. Each case writes only under
 * random msgids and deletes them when it ends, so the suite can run against a store in use,
 * although it is meant for test stores.
 */
export async function runHttpSuite(options: HttpSuiteOptions): Promise<SuiteCounts> {
  const log = options.log ?? (() => {});
  const counts = emptyCounts();
  const report = (outcome: CaseOutcome) => {
    countOutcome(counts, outcome);
    log(formatOutcome(outcome));
  };

  const http = new HttpClient(options.url, options.token);
  const http2 = options.url2 === undefined ? null : new HttpClient(options.url2, options.token);
  const settings: SuiteSettings = {
    rounds: options.rounds ?? DEFAULT_SETTINGS.rounds,
    largeBodyBytes: options.largeBodyBytes ?? DEFAULT_SETTINGS.largeBodyBytes,
  };

  try {
    const info = await serviceInfo(http, report, 'url');
    const reachable2 = http2 === null || (await serviceInfo(http2, report, 'url2')) !== null;
    if (info === null || !reachable2) {
      log(formatSummary(counts));
      return counts;
    }

    const selected = caseFilter(options.only);
    for (const entry of HTTP_CASES) {
      if (!selected(entry.name)) continue;
      const missing = unmetNeed(entry.needs ?? [], { info, token: options.token, http2 });
      if (missing !== null) {
        report({ name: entry.name, status: 'skip', reason: missing });
        continue;
      }
      report(await runCase(entry, { http, http2, info, settings, vars: new CaseVars(info) }));
    }
  } finally {
    await http.close();
    await http2?.close();
  }

  log(formatSummary(counts));
  return counts;
}

/** Reads `GET /v1`. A frontend that fails it fails the whole run loudly. */
async function serviceInfo(
  http: HttpClient,
  report: (outcome: CaseOutcome) => void,
  option: string,
): Promise<ServiceInfo | null> {
  const name = `connect to --${option}`;
  try {
    const response = await http.send('GET', '/v1');
    if (response.status !== 200) {
      const hint = response.status === 401 ? ' (the frontend needs a token: --token-file)' : '';
      report({
        name,
        status: 'fail',
        reason: `GET ${http.target.target('/v1')} returned ${describeResponse(response)}${hint}`,
      });
      return null;
    }
    const info = parseJson(response, 'GET /v1') as ServiceInfo;
    if (typeof info?.limits !== 'object' || !Array.isArray(info.features)) {
      report({
        name,
        status: 'fail',
        reason: `GET /v1 has no limits or features: ${describeResponse(response)}`,
      });
      return null;
    }
    return info;
  } catch (error) {
    report({
      name,
      status: 'fail',
      reason: `GET ${http.target.target('/v1')} failed: ${errorText(error)}`,
    });
    return null;
  }
}

function unmetNeed(
  needs: readonly Need[],
  have: { info: ServiceInfo; token: string | undefined; http2: HttpClient | null },
): string | null {
  for (const need of needs) {
    if (need === 'token' && have.token === undefined) {
      return 'runs only against a frontend with a token (give --token-file)';
    }
    if (need === 'url2' && have.http2 === null) {
      return 'needs a second frontend process of the same store (give --url2)';
    }
    if (need !== 'token' && need !== 'url2' && !have.info.features.includes(need)) {
      return `the frontend does not announce the feature "${need}" in GET /v1`;
    }
  }
  return null;
}

/** Runs one case, then deletes every message it may have created and releases its leases. */
async function runCase(entry: SuiteCase, context: CaseContext): Promise<CaseOutcome> {
  let failure: string | null = null;
  try {
    if ('steps' in entry) await runDataCase(entry, context);
    else await entry.run(context);
  } catch (error) {
    failure = errorText(error);
  }

  const cleanup = await deleteCreated(context);
  if (failure === null && cleanup !== null) failure = cleanup;
  return failure === null
    ? { name: entry.name, status: 'ok' }
    : { name: entry.name, status: 'fail', reason: failure };
}

async function deleteCreated(context: CaseContext): Promise<string | null> {
  let problem: string | null = null;
  // Lease records stay in the store as released; the protocol has no lease delete.
  for (const node of context.vars.nodes) {
    try {
      const response = await context.http.send('DELETE', `/v1/nodes/${node}/lease`);
      if (response.status !== 204 && problem === null) {
        problem = `clean-up: DELETE /v1/nodes/${node}/lease returned ${describeResponse(response)}, expected 204`;
      }
    } catch (error) {
      problem ??= `clean-up: DELETE /v1/nodes/${node}/lease failed: ${errorText(error)}`;
    }
  }
  for (const msgid of context.vars.created) {
    try {
      const response = await context.http.send('DELETE', `/v1/messages/${msgid}`);
      if (response.status !== 204 && problem === null) {
        problem = `clean-up: DELETE /v1/messages/${msgid} returned ${describeResponse(response)}, expected 204`;
      }
    } catch (error) {
      problem ??= `clean-up: DELETE /v1/messages/${msgid} failed: ${errorText(error)}`;
    }
  }
  return problem;
}
