// Loaded into queue-rest with `node --import` (NODE_OPTIONS in smtpd's environment) by the
// SMTP benchmark. It times each smtpd request that queue-rest handles and each HTTP request
// it makes, and writes the events at exit. Without PROBE_FILE_VARIABLE it does nothing.
import { subscribe } from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventLog, epochNow, PROBE_FILE_VARIABLE, writeReportAtExit } from './event-log.js';

interface QueueRequestLike {
  name: string;
}

interface UndiciRequestLike {
  method?: string;
  path?: string;
}

/** Turns `PUT /v1/messages/0a1b2c3d/bundle` into `PUT /v1/messages/:id/bundle`. */
function routeOf(request: UndiciRequestLike): string {
  const pathOnly = (request.path ?? '').replace(/\?.*$/, '');
  return `${request.method ?? '?'} ${pathOnly.replace(/\/[0-9a-f]{8}(?:[0-9a-f]{8})?(?=\/|$)/g, '/:id')}`;
}

/** Wraps QueueBackend.prototype.handle, which queue-rest's session calls once per request. */
async function timeRequests(mainPath: string, calls: EventLog): Promise<string | null> {
  const backendPath = path.join(path.dirname(mainPath), 'backend.js');
  if (!existsSync(backendPath)) return `${backendPath} not found: no per-request timings`;

  const backend = (await import(pathToFileURL(backendPath).href)) as {
    QueueBackend?: { prototype: { handle?: (request: QueueRequestLike) => Promise<unknown> } };
  };
  const prototype = backend.QueueBackend?.prototype;
  const handle = prototype?.handle;
  if (prototype === undefined || typeof handle !== 'function') {
    return `${backendPath} has no QueueBackend.prototype.handle: no per-request timings`;
  }

  prototype.handle = async function timedHandle(this: unknown, request: QueueRequestLike) {
    const start = epochNow();
    try {
      return await handle.call(this, request);
    } finally {
      calls.add(request.name, start, epochNow() - start);
    }
  };
  return null;
}

/** Times undici requests from creation to the end of the response, by their route. */
function timeHttp(http: EventLog): void {
  const started = new WeakMap<object, number>();
  const finish = (message: unknown, suffix: string) => {
    const request = (message as { request: UndiciRequestLike & object }).request;
    const start = started.get(request);
    if (start === undefined) return;
    started.delete(request);
    http.add(`${routeOf(request)}${suffix}`, start, epochNow() - start);
  };

  subscribe('undici:request:create', (message) => {
    started.set((message as { request: object }).request, epochNow());
  });
  subscribe('undici:request:trailers', (message) => finish(message, ''));
  subscribe('undici:request:error', (message) => finish(message, ' (failed)'));
}

const outputPath = process.env[PROBE_FILE_VARIABLE];
const mainPath = process.argv[1];

if (outputPath !== undefined && mainPath?.endsWith(`${path.sep}dist${path.sep}main.js`)) {
  const calls = new EventLog();
  const http = new EventLog();
  const problems: string[] = [];

  const problem = await timeRequests(mainPath, calls);
  if (problem !== null) problems.push(problem);
  timeHttp(http);

  writeReportAtExit(outputPath, () => ({
    pid: process.pid,
    series: { calls: calls.toJSON(), http: http.toJSON() },
    problems,
  }));
}
