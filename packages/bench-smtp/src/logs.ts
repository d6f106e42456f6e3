import type { EventSeries } from './probes/event-log.js';

/** The fields of queue-rest's `counters` log line that the benchmark reports. */
export interface QueueRestCounters {
  acceptedMessages: number;
  deliveredMessages: number;
  waitsPerAcceptedMessage: number | null;
  waitsPerDeliveredMessage: number | null;
  waits: Record<string, number>;
  calls: Record<string, number>;
  failures: Record<string, number>;
  retries: number;
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  const records: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // smtpd's own lines and cut lines are not JSON; only queue-rest's are.
    }
  }
  return records;
}

/**
 * Returns the last `counters` line that queue-rest wrote into smtpd's log (its summary at
 * exit when smtpd stopped it), or null when there is none.
 */
export function lastCounters(smtpdLog: string): QueueRestCounters | null {
  const lines = jsonLines(smtpdLog).filter((record) => record.msg === 'counters');
  return (lines.at(-1) as QueueRestCounters | undefined) ?? null;
}

/**
 * Reads the frontend's `request` log lines (pino, `time` in epoch ms at the end of the
 * response, `durationMs`) as events labelled `METHOD route`.
 */
export function frontendRequests(frontendLog: string): EventSeries {
  const series: EventSeries = { labels: [], label: [], start: [], duration: [] };
  const labels = new Map<string, number>();

  for (const record of jsonLines(frontendLog)) {
    const { msg, time, durationMs, method, route } = record;
    if (msg !== 'request' || typeof time !== 'number' || typeof durationMs !== 'number') continue;

    const label = `${String(method)} ${String(route)}`;
    let index = labels.get(label);
    if (index === undefined) {
      index = series.labels.length;
      series.labels.push(label);
      labels.set(label, index);
    }
    series.label.push(index);
    series.start.push(time - durationMs);
    series.duration.push(durationMs);
  }
  return series;
}
