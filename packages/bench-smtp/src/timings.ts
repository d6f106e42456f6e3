import type { EventSeries } from './probes/event-log.js';

/** A span of time in fractional epoch ms. */
export interface TimeWindow {
  start: number;
  end: number;
}

/** Durations of the events of one label, in ms. */
export interface LabelTimes {
  count: number;
  totalMs: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, rank)]!;
}

/** Sums, by label, the events of `series` that started inside `window`. */
export function timesInWindow(
  series: EventSeries | undefined,
  window: TimeWindow,
): Record<string, LabelTimes> {
  if (series === undefined) return {};

  const durations = new Map<string, number[]>();
  for (let i = 0; i < series.start.length; i++) {
    const start = series.start[i]!;
    if (start < window.start || start > window.end) continue;

    const label = series.labels[series.label[i]!]!;
    const list = durations.get(label) ?? [];
    list.push(series.duration[i]!);
    durations.set(label, list);
  }

  const times: Record<string, LabelTimes> = {};
  for (const [label, list] of durations) {
    list.sort((a, b) => a - b);
    const totalMs = list.reduce((sum, value) => sum + value, 0);
    times[label] = {
      count: list.length,
      totalMs,
      meanMs: totalMs / list.length,
      p50Ms: percentile(list, 0.5),
      p99Ms: percentile(list, 0.99),
    };
  }
  return times;
}

/** Adds up the counts and totals of every label. */
export function sumTimes(times: Record<string, LabelTimes>): { count: number; totalMs: number } {
  let count = 0;
  let totalMs = 0;
  for (const entry of Object.values(times)) {
    count += entry.count;
    totalMs += entry.totalMs;
  }
  return { count, totalMs };
}

/**
 * Returns the time in ms during which at least one event of `series` that started inside
 * `window` was in progress. Overlapping events (fsyncs that the driver runs in parallel)
 * count once, so the result can be set against wall time.
 */
export function busyTimeInWindow(series: EventSeries | undefined, window: TimeWindow): number {
  if (series === undefined) return 0;

  const spans: Array<[number, number]> = [];
  for (let i = 0; i < series.start.length; i++) {
    const start = series.start[i]!;
    if (start >= window.start && start <= window.end) {
      spans.push([start, start + series.duration[i]!]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);

  let busy = 0;
  let current: [number, number] | null = null;
  for (const [start, end] of spans) {
    if (current !== null && start <= current[1]) {
      current[1] = Math.max(current[1], end);
      continue;
    }
    if (current !== null) busy += current[1] - current[0];
    current = [start, end];
  }
  if (current !== null) busy += current[1] - current[0];
  return busy;
}
