import { setTimeout as sleep } from 'node:timers/promises';
import { createQueueStore, type DriverCounter, MemoryDriver, StorageFault } from '@smtpq/store';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index.js';
import { createMessage, fetchJson, startTestServer } from './helpers.js';

/** Returns the value of one sample line of the Prometheus text, or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function scrape(url: string, init: RequestInit = {}): Promise<string> {
  const response = await fetch(`${url}/metrics`, init);
  expect(response.status).toBe(200);
  return response.text();
}

/** A memory driver that reports one counter, as the fs driver reports its fsyncs. */
class CountingDriver extends MemoryDriver {
  writes = 0;

  override async create(key: string, data: Buffer) {
    this.writes += 1;
    return super.create(key, data);
  }

  counters(): DriverCounter[] {
    return [{ name: 'smtpq_memory_creates_total', help: 'creates', value: this.writes }];
  }
}

const started: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

describe('GET /metrics', () => {
  it('serves the Prometheus text format', async () => {
    const server = await startTestServer();

    const response = await fetch(`${server.url}/metrics`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('# TYPE smtpq_http_requests_total counter');
    expect(text).toContain('# TYPE smtpq_http_request_duration_seconds histogram');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
  });

  it('labels requests by route template, never by raw path', async () => {
    const server = await startTestServer();
    await fetchJson(`${server.url}/v1/messages/0000abcd`);
    await fetchJson(`${server.url}/v1/messages/0000abce`);
    await fetchJson(`${server.url}/no/such/path`);

    const text = await scrape(server.url);

    const notFound = 'method="GET",route="/v1/messages/:msgid",status="404"';
    expect(sample(text, `smtpq_http_requests_total{${notFound}}`)).toBe(2);
    expect(
      sample(text, 'smtpq_http_requests_total{method="GET",route="unmatched",status="404"}'),
    ).toBe(1);
    expect(
      sample(
        text,
        'smtpq_http_request_duration_seconds_count{method="GET",route="/v1/messages/:msgid"}',
      ),
    ).toBe(2);
    expect(text).not.toContain('0000abcd');
    expect(text).not.toContain('/no/such/path');
  });

  it('counts storage faults by kind', async () => {
    const server = await startTestServer();
    server.driver.faults.set('get', () => new StorageFault('full', 'disk full (ENOSPC)'));
    const failed = await fetchJson(`${server.url}/v1/messages/0000abcd`);
    server.driver.faults.delete('get');

    const text = await scrape(server.url);

    expect(failed.status).toBe(503);
    expect(sample(text, 'smtpq_storage_errors_total{kind="full"}')).toBe(1);
  });

  it('needs the token like every route but health', async () => {
    const server = await startTestServer({ token: 'metrics-token' });

    const without = await fetchJson(`${server.url}/metrics`);
    const text = await scrape(server.url, { headers: { authorization: 'Bearer metrics-token' } });

    expect(without.status).toBe(401);
    expect(without.json.error.code).toBe('unauthorized');
    // Authentication runs before routing, so a refused request has no route template.
    expect(
      sample(text, 'smtpq_http_requests_total{method="GET",route="unmatched",status="401"}'),
    ).toBe(1);
  });

  it('reports the queue as garbage collection counted it', async () => {
    const server = await startTestServer({ gcIntervalMs: 20 });
    await createMessage(server.url, { body: 'committed', envelopes: ['a', 'b'], commit: true });
    await createMessage(server.url, { body: 'open' });

    // The pass that counts both messages starts after they exist.
    const since = Date.now() / 1000;
    let text = await scrape(server.url);
    while ((sample(text, 'smtpq_queue_census_timestamp_seconds') ?? 0) <= since) {
      await sleep(20);
      text = await scrape(server.url);
    }

    expect(sample(text, 'smtpq_queue_messages{state="committed"}')).toBe(1);
    expect(sample(text, 'smtpq_queue_messages{state="open"}')).toBe(1);
    expect(sample(text, 'smtpq_queue_envelopes')).toBe(2);
    expect(sample(text, 'smtpq_queue_oldest_message_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'smtpq_queue_oldest_message_age_seconds')).toBeLessThan(60);
  });

  it('exports the counters of the storage driver', async () => {
    const driver = new CountingDriver();
    const server = await startServer({
      store: createQueueStore(driver),
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      gcIntervalMs: 0,
    });
    started.push(server);

    await createMessage(server.url, { envelopes: ['a'] });
    const first = await scrape(server.url);
    await createMessage(server.url, { envelopes: ['b'] });
    const second = await scrape(server.url);

    expect(first).toContain('# TYPE smtpq_memory_creates_total counter');
    expect(sample(first, 'smtpq_memory_creates_total')).toBe(2);
    expect(sample(second, 'smtpq_memory_creates_total')).toBe(4);
  });
});
