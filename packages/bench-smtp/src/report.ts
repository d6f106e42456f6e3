import type { PhaseBudget } from './budget.js';
import type { MachineFacts } from './machine.js';
import type { BenchOptions, QueueKind } from './options.js';
import type { RunResult } from './run.js';
import type { LabelTimes } from './timings.js';

/** The acceptance rate that queue-rest aims at, as a fraction of smtpd's own fs queue. */
export const AIMED_RATIO = 0.7;

function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? '-'
    : value.toFixed(digits);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function mebibytes(kib: number | null): string {
  return kib === null ? '-' : `${(kib / 1024).toFixed(0)} MiB`;
}

export function formatHeader(options: BenchOptions, machine: MachineFacts): string {
  return [
    `SMTP end to end: ${options.messages} messages of ${options.messageBytes} bytes, ` +
      `${options.sessions} sessions, ${options.messagesPerConnection} messages per connection, ` +
      `phases ${options.phases}, probes ${options.probes ? 'on' : 'off'}` +
      (options.storeParent === null ? '' : `, rest store under ${options.storeParent}`),
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, ` +
      `disk ${machine.disk}, kernel ${machine.kernel}, Node ${machine.node}, ${machine.smtpd}`,
  ].join('\n');
}

export function formatRunTable(results: RunResult[]): string {
  const rows = [
    [
      'round',
      'queue',
      'accepted/s',
      'delivered/s',
      'accepted',
      'failed',
      'delivered',
      'waits/accepted',
      'waits/delivered',
      'queue-rest VmHWM',
      'frontend VmHWM',
      'load avg',
      'cpu/io pressure',
    ],
  ];
  for (const result of results) {
    rows.push([
      String(result.round),
      result.queue,
      fixed(result.acceptedPerSecond, 0),
      fixed(result.deliveredPerSecond, 0),
      String(result.load.accepted),
      String(result.load.failed),
      String(result.delivered),
      fixed(result.counters?.waitsPerAcceptedMessage, 2),
      fixed(result.counters?.waitsPerDeliveredMessage, 2),
      mebibytes(result.queueRestPeakKiB),
      mebibytes(result.frontendPeakKiB),
      fixed(result.loadAverage, 2),
      `${fixed(result.cpuPressure, 0)}% / ${fixed(result.ioPressure, 0)}%`,
    ]);
  }
  return table(rows);
}

/** Medians per queue and the rest/fs ratios of those medians. */
export function formatRatios(results: RunResult[]): string {
  const medians = (queue: QueueKind) => {
    const runs = results.filter((result) => result.queue === queue);
    return {
      accepted: median(runs.map((result) => result.acceptedPerSecond)),
      delivered: median(runs.map((result) => result.deliveredPerSecond)),
    };
  };
  const fs = medians('fs');
  const rest = medians('rest');
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null || b === 0 ? null : a / b;

  return [
    `median fs:   ${fixed(fs.accepted, 0)} accepted/s, ${fixed(fs.delivered, 0)} delivered/s`,
    `median rest: ${fixed(rest.accepted, 0)} accepted/s, ${fixed(rest.delivered, 0)} delivered/s`,
    `rest/fs: accepted ${fixed(ratio(rest.accepted, fs.accepted), 2)}, ` +
      `delivered ${fixed(ratio(rest.delivered, fs.delivered), 2)} (aim: ${AIMED_RATIO} accepted)`,
  ].join('\n');
}

function budgetRows(accept: PhaseBudget, delivery: PhaseBudget): string[][] {
  const line = (name: string, pick: (budget: PhaseBudget) => number | null, digits = 3) => [
    name,
    fixed(pick(accept), digits),
    fixed(pick(delivery), digits),
  ];
  return [
    ['per message, ms', 'accept', 'delivery'],
    line('wall time (1 / rate)', (b) => b.perMessageMs.wall),
    line('  in queue-rest handlers', (b) => b.perMessageMs.queueRest),
    line('    HTTP round trips', (b) => b.perMessageMs.http),
    line('      frontend handling', (b) => b.perMessageMs.frontend),
    line('        fsync in progress (durable write)', (b) => b.perMessageMs.durableWrite),
    line('  outside queue-rest (smtpd, idle)', (b) => b.perMessageMs.outsideQueueRest),
    line('HTTP requests per message', (b) => b.httpRequestsPerMessage, 2),
    line('fsyncs per message', (b) => b.syncsPerMessage, 2),
  ];
}

function timesRows(title: string, times: Record<string, LabelTimes>): string[][] {
  if (Object.keys(times).length === 0) return [];

  const rows = Object.entries(times)
    .sort(([, a], [, b]) => b.totalMs - a.totalMs)
    .map(([label, entry]) => [
      `  ${label}`,
      String(entry.count),
      fixed(entry.meanMs * 1000, 0),
      fixed(entry.p50Ms * 1000, 0),
      fixed(entry.p99Ms * 1000, 0),
    ]);
  return [[title, 'count', 'mean µs', 'p50 µs', 'p99 µs'], ...rows];
}

/** Formats the per-message budget and the per-call times of one rest run, both phases. */
export function formatBudget(result: RunResult): string {
  const parts = [
    `budget of rest round ${result.round}:`,
    table(budgetRows(result.accept, result.delivery)),
  ];
  for (const [phase, budget] of [
    ['accept', result.accept],
    ['delivery', result.delivery],
  ] as const) {
    const rows = [
      ...timesRows(`${phase}: queue-rest per smtpd request`, budget.calls),
      ...timesRows(`${phase}: HTTP round trip per route`, budget.http),
      ...timesRows(`${phase}: frontend handling per route`, budget.frontend),
      ...timesRows(`${phase}: fs driver syncs`, budget.syncs),
    ];
    if (rows.length > 0) parts.push(table(rows));
  }
  if (result.problems.length > 0) parts.push(`missing figures: ${result.problems.join('; ')}`);
  return parts.join('\n\n');
}

/** Formats the line printed after each run. */
export function formatProgress(result: RunResult): string {
  const failures =
    result.load.failed === 0
      ? ''
      : `, ${result.load.failed} failed: ${result.load.failureSamples[0]}`;
  return (
    `round ${result.round} ${result.queue}: ${fixed(result.acceptedPerSecond, 0)} accepted/s, ` +
    `${fixed(result.deliveredPerSecond, 0)} delivered/s${failures}`
  );
}
