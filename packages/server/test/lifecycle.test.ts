import { createQueueStore, MemoryDriver } from '@smtpq/store';
import { describe, expect, it, vi } from 'vitest';
import { StartupError, startServer } from '../src/index.js';
import { createMessage, fetchJson, startTestServer } from './helpers.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('graceful shutdown', () => {
  it('finishes requests in flight, then closes store', async () => {
    const server = await startTestServer();
    const slow = gate();
    server.driver.gates.set('get', slow.promise);

    const inFlight = fetchJson(`${server.url}/v1/messages/0a1b2c3d`);
    await vi.waitFor(() => {
      expect(server.driver.calls.get('get')).toBe(1);
    });
    const closing = server.running.close();

    await expect(fetch(`${server.url}/v1`)).rejects.toThrow();
    expect(server.driver.closed).toBe(false);

    slow.open();
    const response = await inFlight;
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('message-not-found');
    expect(response.headers.get('connection')).toBe('close');
    await closing;
    expect(server.driver.closed).toBe(true);
  });

  it('cuts requests still running after the shutdown timeout', async () => {
    const server = await startTestServer({ shutdownTimeoutMs: 100 });
    server.driver.gates.set('get', new Promise(() => undefined));

    const inFlight = fetch(`${server.url}/v1/messages/0a1b2c3d`);
    await vi.waitFor(() => {
      expect(server.driver.calls.get('get')).toBe(1);
    });
    await server.running.close();

    await expect(inFlight).rejects.toThrow();
    expect(server.driver.closed).toBe(true);
    expect(server.logs.some((line) => line.msg.startsWith('shutdown timed out'))).toBe(true);
  });

  it('returns the same promise when closed twice', async () => {
    const server = await startTestServer();
    const first = server.running.close();
    expect(server.running.close()).toBe(first);
    await first;
  });
});

describe('startServer', () => {
  it('reports a port in use', async () => {
    const server = await startTestServer();
    const store = createQueueStore(new MemoryDriver());
    const start = startServer({ store, host: '127.0.0.1', port: server.running.address.port });
    await expect(start).rejects.toThrow(StartupError);
    await expect(start).rejects.toThrow(
      `cannot listen on 127.0.0.1:${server.running.address.port}: the address is already in use`,
    );
  });

  it('listens on the IPv6 loopback', async () => {
    const server = await startTestServer({ host: '::1' });
    expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetchJson(`${server.url}/v1/health`)).status).toBe(200);
  });
});

describe('garbage timer', () => {
  it('removes expired messages and logs what it removed', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const server = await startTestServer({
      queue: { uncommittedMaxAgeMs: 1000, now: () => now },
      gcIntervalMs: 20,
    });
    const { msgid } = await createMessage(server.url, { body: 'x', envelopes: ['e'] });
    now += 2000;

    await vi.waitFor(
      () => {
        const line = server.logs.find(
          (entry) => entry.msg === 'garbage collected' && entry.expiredMessages === 1,
        );
        expect(line?.level).toBe(30);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect((await fetchJson(`${server.url}/v1/messages/${msgid}`)).status).not.toBe(200);
  });
});
