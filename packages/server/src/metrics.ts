import type { QueueCensus, QueueStore } from '@smtpq/store';
import type { NextFunction, Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { requestFacts } from './context.js';

/** Upper bounds of the request duration histogram, in seconds: 0.5 ms to 30 s. */
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Label of requests that matched no route, so that raw paths never become label values. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * The Prometheus metrics of one server, in a registry of its own: requests and their
 * duration by route template, storage faults by kind, the queue's size as the last garbage
 * collection pass counted it, the storage driver's own counters, and Node's process metrics.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly durations: Histogram<'method' | 'route'>;
  private readonly storageErrors: Counter<'kind'>;
  private census: QueueCensus | null = null;

  constructor(store: QueueStore) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.requests = new Counter({
      name: 'smtpq_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.durations = new Histogram({
      name: 'smtpq_http_request_duration_seconds',
      help: 'Time from the request line to the end of the response, by method and route template',
      labelNames: ['method', 'route'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.storageErrors = new Counter({
      name: 'smtpq_storage_errors_total',
      help: 'Requests that failed with a storage fault (503), by kind: unavailable, full, read-only, timeout',
      labelNames: ['kind'],
      registers,
    });
    this.addQueueGauges();
    this.addDriverCounters(store);
  }

  /** Middleware that counts and times every request when its response ends. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const started = process.hrtime.bigint();
      res.on('close', () => {
        const facts = requestFacts(res);
        const route = facts.route ?? UNMATCHED_ROUTE;
        const status = res.headersSent ? String(res.statusCode) : 'none';
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;

        this.requests.inc({ method: req.method, route, status });
        this.durations.observe({ method: req.method, route }, seconds);
        if (facts.errorCode?.startsWith('storage-') === true) {
          this.storageErrors.inc({ kind: facts.errorCode.slice('storage-'.length) });
        }
      });
      next();
    };
  }

  /** Keeps the counts of a garbage collection pass for the queue gauges. */
  recordCensus(census: QueueCensus): void {
    this.census = census;
  }

  /** Returns the metrics in the Prometheus text format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private addQueueGauges(): void {
    const registers = [this.registry];
    const metrics = this;

    new Gauge({
      name: 'smtpq_queue_messages',
      help: 'Messages in the store by state (open, committed), as the last garbage collection pass counted them',
      labelNames: ['state'],
      registers,
      collect() {
        if (metrics.census === null) return;
        this.set({ state: 'open' }, metrics.census.openMessages);
        this.set({ state: 'committed' }, metrics.census.committedMessages);
      },
    });
    new Gauge({
      name: 'smtpq_queue_envelopes',
      help: 'Envelope records in the store, as the last garbage collection pass counted them',
      registers,
      collect() {
        if (metrics.census !== null) this.set(metrics.census.envelopes);
      },
    });
    new Gauge({
      name: 'smtpq_queue_oldest_message_age_seconds',
      help: 'Age of the oldest committed message found by the last garbage collection pass, at scrape time; 0 when the queue was empty',
      registers,
      collect() {
        if (metrics.census === null) return;
        const oldest = metrics.census.oldestCommittedAt;
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    new Gauge({
      name: 'smtpq_queue_census_timestamp_seconds',
      help: 'Unix time at which the garbage collection pass behind the queue gauges started',
      registers,
      collect() {
        if (metrics.census !== null) this.set(metrics.census.takenAt / 1000);
      },
    });
  }

  /** Exports each counter of the storage driver (such as the fs store's fsyncs) as is. */
  private addDriverCounters(store: QueueStore): void {
    for (const initial of store.driverCounters?.() ?? []) {
      let reported = 0;
      new Counter({
        name: initial.name,
        help: initial.help,
        registers: [this.registry],
        collect() {
          const current = store.driverCounters?.().find((counter) => counter.name === initial.name);
          if (current === undefined || current.value <= reported) return;
          this.inc(current.value - reported);
          reported = current.value;
        },
      });
    }
  }
}
