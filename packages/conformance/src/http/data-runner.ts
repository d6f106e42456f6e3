import { isEvpid, isMsgid } from '@smtpq/protocol';
import { firstDifference } from '../bytes.js';
import { check, fail, show } from '../failure.js';
import { bodyBytes } from './bodies.js';
import type {
  BodySpec,
  CaseContext,
  DataCase,
  Expectation,
  ListStep,
  MessageStep,
  RequestStep,
  Step,
  WalkStep,
} from './case-types.js';
import { checkAnswer, type HttpClient, parseJson } from './http-client.js';
import type { HttpResponse } from './raw-http.js';
import { readWalk } from './walk-reader.js';

/** Runs the steps of a data case in order; the first step that fails ends the case. */
export async function runDataCase(entry: DataCase, context: CaseContext): Promise<void> {
  for (const [index, step] of entry.steps.entries()) {
    try {
      await runStep(step, context);
    } catch (error) {
      const label = `step ${index + 1} (${describeStep(step, context)})`;
      if (error instanceof Error) error.message = `${label}: ${error.message}`;
      throw error;
    }
  }
}

function describeStep(step: Step, context: CaseContext): string {
  const fill = (text: string) => safeFill(text, context);
  if ('method' in step) return `${step.method} ${fill(step.path)}`.slice(0, 140);
  if ('message' in step) return `${step.state} message ${fill(step.message)}`;
  if ('walk' in step) return `walk ${fill(step.walk)}`;
  return `list ${step.list} messages`;
}

function safeFill(text: string, context: CaseContext): string {
  try {
    return context.vars.fill(text);
  } catch {
    return text;
  }
}

function runStep(step: Step, context: CaseContext): Promise<void> {
  if ('method' in step) return runRequest(step, context);
  if ('message' in step) return runMessage(step, context);
  if ('walk' in step) return runWalk(step, context);
  return runList(step, context);
}

function clientOf(via: 'url2' | undefined, context: CaseContext): HttpClient {
  if (via === undefined) return context.http;
  return context.http2 ?? fail('the step needs the second frontend (--url2)');
}

async function runRequest(step: RequestStep, context: CaseContext): Promise<void> {
  const { vars, info } = context;
  const path = vars.fill(step.path);
  const headers = filledHeaders(step.headers, context);
  const body = step.body === undefined ? undefined : bodyBytes(step.body, vars, info);
  const upload = step.method === 'PUT' && /\/(body|bundle)$/.test(path.split('?')[0] ?? '');

  const response = await clientOf(step.via, context).send(step.method, path, {
    headers,
    body,
    digest: step.digest ?? (upload ? 'auto' : 'none'),
    auth: step.auth,
    chunked: step.chunked,
  });

  const expectation: Expectation =
    typeof step.expect === 'number' ? { status: step.expect } : step.expect;
  checkAnswer(
    response,
    expectation.status,
    expectation.code,
    `${step.method} ${path.slice(0, 120)}`,
  );
  checkFields(response, expectation, context);
}

function checkFields(response: HttpResponse, expectation: Expectation, context: CaseContext): void {
  const { vars, info } = context;
  const needsJson =
    expectation.json !== undefined ||
    Object.values(expectation.save ?? {}).some((from) => from.startsWith('json.'));
  const json = needsJson ? parseJson(response, 'response') : undefined;

  for (const [path, expected] of Object.entries(expectation.json ?? {})) {
    matchValue(valueAt(json, path), expected, `"${path}" of the response`, context);
  }
  for (const [name, expected] of Object.entries(expectation.headers ?? {})) {
    const actual = response.headers[name.toLowerCase()];
    matchValue(
      Array.isArray(actual) ? actual.join(', ') : actual,
      expected,
      `header ${name}`,
      context,
    );
  }
  if (expectation.body !== undefined) {
    const bytes = bodyBytes(expectation.body, vars, info);
    check(
      response.body.equals(bytes),
      `response bytes differ from the expected ${bytes.length} bytes: ${firstDifference(response.body, bytes)}`,
    );
  }
  for (const [name, from] of Object.entries(expectation.save ?? {})) {
    const value = from.startsWith('json.')
      ? valueAt(json, from.slice(5))
      : response.headers[from.slice(7)];
    check(typeof value === 'string', `cannot keep $${name}: ${from} is ${show(value)}`);
    vars.set(name, value);
  }
}

function valueAt(json: unknown, path: string): unknown {
  let value: unknown = json;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const PATTERNS: Record<string, (value: unknown) => boolean> = {
  '~msgid': (value) => typeof value === 'string' && isMsgid(value),
  '~evpid': (value) => typeof value === 'string' && isEvpid(value),
  '~etag': (value) => typeof value === 'string' && /^"[\x21\x23-\x7e]+"$/.test(value),
  '~cursor': (value) => typeof value === 'string' && value.length > 0,
  '~integer': (value) => Number.isInteger(value) && (value as number) > 0,
  '~array': (value) => Array.isArray(value),
  '~present': (value) => value !== undefined && value !== null,
  '~leaseid': (value) => typeof value === 'string' && /^[0-9a-f]{32}$/.test(value),
};

function matchValue(actual: unknown, expected: unknown, what: string, context: CaseContext): void {
  if (typeof expected === 'string') {
    const pattern = PATTERNS[expected];
    if (pattern !== undefined) {
      check(pattern(actual), `${what} is ${show(actual)}, expected ${expected.slice(1)}`);
      return;
    }
    const filled = context.vars.fill(expected);
    check(actual === filled, `${what} is ${show(actual)}, expected ${show(filled)}`);
    return;
  }
  check(
    show(actual, 1e6) === show(expected, 1e6),
    `${what} is ${show(actual)}, expected ${show(expected)}`,
  );
}

async function runMessage(step: MessageStep, context: CaseContext): Promise<void> {
  const { http, vars, info } = context;
  const msgid = vars.fill(step.message);
  const headers = filledHeaders(step.headers, context);
  await http.expect('PUT', `/v1/messages/${msgid}`, 201, { headers });
  for (const [evpid, data] of Object.entries(step.envelopes ?? {})) {
    await http.expect('PUT', `/v1/envelopes/${vars.fill(evpid)}`, 201, {
      headers: { ...headers, 'if-none-match': '*' },
      body: bodyBytes(data, vars, info),
    });
  }
  if (step.body !== undefined) {
    await http.expect('PUT', `/v1/messages/${msgid}/body`, 204, {
      headers,
      body: bodyBytes(step.body, vars, info),
      digest: 'auto',
    });
  }
  if (step.state === 'committed') {
    await http.expect('POST', `/v1/messages/${msgid}/commit`, 204, { headers });
  }
}

function filledHeaders(
  headers: Record<string, string> | undefined,
  context: CaseContext,
): Record<string, string> {
  const filled: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {}))
    filled[name] = context.vars.fill(value);
  return filled;
}

/** Returns the msgids of a case run. Only their entries count in walks of a shared store. */
function ownMsgids(context: CaseContext): Set<string> {
  return new Set(['m', 'm2', 'm3', 'm4'].map((name) => context.vars.get(name)));
}

async function runWalk(step: WalkStep, context: CaseContext): Promise<void> {
  const client = clientOf(step.via, context);
  const walk = await readWalk(() => client, context.vars.fill(step.walk), {
    limit: step.limit,
    headers: filledHeaders(step.headers, context),
  });
  const own = ownMsgids(context);
  const entries = walk.entries.filter((entry) => own.has(entry.evpid.slice(0, 8)));

  const expected = step.expect.evpids.map((evpid) => context.vars.fill(evpid)).sort();
  const actual = entries.map((entry) => entry.evpid);
  check(
    show(actual, 1e6) === show(expected, 1e6),
    `walk returned ${show(actual, 400)} of this case's envelopes, expected ${show(expected, 400)}`,
  );

  for (const [evpid, spec] of Object.entries(step.expect.data ?? {})) {
    const filled = context.vars.fill(evpid);
    const entry = entries.find((candidate) => candidate.evpid === filled);
    const bytes = bodyBytes(spec as BodySpec, context.vars, context.info);
    check(entry !== undefined, `walk has no entry ${filled}`);
    check(
      entry.data.equals(bytes),
      `walk entry ${filled} data differs: ${firstDifference(entry.data, bytes)}`,
    );
  }
  for (const [evpid, etag] of Object.entries(step.expect.etags ?? {})) {
    const filled = context.vars.fill(evpid);
    const entry = entries.find((candidate) => candidate.evpid === filled);
    check(entry !== undefined, `walk has no entry ${filled}`);
    check(
      entry.etag === context.vars.fill(etag),
      `walk entry ${filled} has etag ${show(entry.etag)}, GET returned ${show(context.vars.fill(etag))}`,
    );
  }
}

async function runList(step: ListStep, context: CaseContext): Promise<void> {
  const own = ownMsgids(context);
  const listed: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const params = new URLSearchParams();
    if (step.list !== 'any') params.set('state', step.list);
    if (step.owner !== undefined) params.set('owner', context.vars.fill(step.owner));
    if (step.limit !== undefined) params.set('limit', String(step.limit));
    if (cursor !== undefined) params.set('cursor', cursor);
    const page = await context.http.json<{
      messages: Array<{ msgid: string; state: string }>;
      next: string | null;
      end: boolean;
    }>('GET', `/v1/messages?${params}`, 200);
    check(Array.isArray(page.messages), '"messages" is not an array');
    for (const message of page.messages) {
      if (step.list !== 'any')
        check(
          message.state === step.list,
          `list of ${step.list} messages holds ${message.msgid} in state ${show(message.state)}`,
        );
      if (step.owner !== undefined) {
        const owner = context.vars.fill(step.owner) || null;
        check(
          (message as { owner?: unknown }).owner === owner,
          `list of owner ${show(owner)} holds ${message.msgid} of owner ${show((message as { owner?: unknown }).owner)}`,
        );
      }
      if (own.has(message.msgid)) listed.push(message.msgid);
    }
    if (page.end) {
      check(page.next === null, `last list page has next ${show(page.next)}, expected null`);
      break;
    }
    check(typeof page.next === 'string', `list page has end false and next ${show(page.next)}`);
    cursor = page.next;
  }

  const expected = step.expect.msgids.map((msgid) => context.vars.fill(msgid)).sort();
  check(
    show(listed) === show(expected),
    `list returned ${show(listed)} of this case's messages, expected ${show(expected)}`,
  );
}
