import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { formatContentDigest } from '@smtpq/protocol';
import {
  createQueueStore,
  MemoryDriver,
  type QueueOptions,
  type QueueStore,
  type StorageDriver,
} from '@smtpq/store';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { type RunningServer, type StartServerOptions, startServer } from '../src/index.js';

export type LogRecord = Record<string, unknown> & { msg: string; level: number };

type DriverMethod = Exclude<keyof StorageDriver, 'kind'>;

/**
 * A MemoryDriver whose methods can be made to fail or wait, one script per method, to put
 * storage faults and slow storage under a real server.
 */
export class ScriptedDriver extends MemoryDriver {
  readonly faults = new Map<DriverMethod, () => unknown>();
  readonly gates = new Map<DriverMethod, Promise<void>>();
  /** Calls per method so far, counted before any gate or fault. */
  readonly calls = new Map<DriverMethod, number>();
  closed = false;

  override async health(): Promise<void> {
    await this.script('health');
    return super.health();
  }

  override async get(key: string) {
    await this.script('get');
    return super.get(key);
  }

  override async blobPut(key: string, source: AsyncIterable<Uint8Array>) {
    await this.script('blobPut');
    return super.blobPut(key, source);
  }

  override async close(): Promise<void> {
    this.closed = true;
    return super.close();
  }

  private async script(method: DriverMethod): Promise<void> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    await this.gates.get(method);
    const fault = this.faults.get(method);
    if (fault !== undefined) throw fault();
  }
}

export interface TestServer {
  url: string;
  store: QueueStore;
  driver: ScriptedDriver;
  running: RunningServer;
  logs: LogRecord[];
  /** Every log line as written, to search for what must never appear. */
  logText: () => string;
}

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Starts a real server on 127.0.0.1 with an ephemeral port over a scripted memory store. */
export async function startTestServer(
  options: Partial<StartServerOptions> & { queue?: Partial<QueueOptions> } = {},
): Promise<TestServer> {
  const driver = new ScriptedDriver();
  const store = createQueueStore(driver, options.queue);
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, destination);

  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    shutdownTimeoutMs: 2000,
    ...options,
    store,
  });
  servers.push(running);

  return {
    url: running.url,
    store,
    driver,
    running,
    get logs() {
      return lines
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    },
    logText: () => lines.join(''),
  };
}

export function digestHeader(data: Buffer | string): string {
  return formatContentDigest(createHash('sha256').update(data).digest());
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the fields of whatever JSON came back.
type ResponseJson = any;

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: ResponseJson;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Chunks written one by one; without a content-length header the request is chunked. */
  chunks?: Array<Buffer | string>;
  /** Leave the request unfinished after the chunks: `abort` cuts the connection, `stall` waits. */
  end?: 'finish' | 'abort' | 'stall';
}

/**
 * Sends a request with node:http, which can do what fetch cannot: a chunked body, a
 * Content-Length that lies, a connection cut or stalled in the middle of the body.
 */
export function rawRequest(base: string, spec: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${spec.path}`, {
      method: spec.method,
      headers: spec.headers,
      agent: false,
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(parts);
        let json: unknown;
        try {
          json = JSON.parse(body.toString());
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);

    for (const chunk of spec.chunks ?? []) req.write(chunk);
    const end = spec.end ?? 'finish';
    if (end === 'finish') req.end();
    if (end === 'abort') {
      // Give the server the written bytes before the connection is cut.
      req.flushHeaders();
      setTimeout(() => req.destroy(), 50);
    }
  });
}

/** Sends a request with fetch and returns its status and JSON body. */
export async function fetchJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; json: ResponseJson; text: string }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** Creates an open message with a body and the given envelopes; returns its msgid and evpids. */
export async function createMessage(
  url: string,
  options: { body?: string; envelopes?: string[]; commit?: boolean } = {},
): Promise<{ msgid: string; evpids: string[] }> {
  const created = await fetchJson(`${url}/v1/messages`, { method: 'POST' });
  const msgid: string = created.json.msgid;

  const evpids: string[] = [];
  for (const data of options.envelopes ?? []) {
    const envelope = await fetchJson(`${url}/v1/messages/${msgid}/envelopes`, {
      method: 'POST',
      body: data,
    });
    evpids.push(envelope.json.evpid);
  }

  if (options.body !== undefined) {
    const put = await fetch(`${url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: options.body,
      headers: { 'content-digest': digestHeader(options.body) },
    });
    if (put.status !== 204) throw new Error(`body upload failed with ${put.status}`);
  }
  if (options.commit === true) {
    const commit = await fetch(`${url}/v1/messages/${msgid}/commit`, { method: 'POST' });
    if (commit.status !== 204) throw new Error(`commit failed with ${commit.status}`);
  }
  return { msgid, evpids };
}
