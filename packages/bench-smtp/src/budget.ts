import type { EventSeries } from './probes/event-log.js';
import {
  busyTimeInWindow,
  type LabelTimes,
  sumTimes,
  type TimeWindow,
  timesInWindow,
} from './timings.js';

/** Split of one phase's wall time per message, from the probes and the request log. */
export interface PhaseBudget {
  messages: number;
  window: TimeWindow;
  /** Milliseconds per message; null where the run had no probe to measure it. */
  perMessageMs: {
    /** The phase's wall time divided by its messages: the inverse of the rate. */
    wall: number;
    /** In queue-rest's handlers of smtpd's requests, HTTP included. */
    queueRest: number | null;
    /** Part of queueRest: HTTP requests from creation to the end of the response. */
    http: number | null;
    /** Part of http: the frontend's own handling, from its request log. */
    frontend: number | null;
    /**
     * Part of frontend: time with at least one fsync or fdatasync of the fs driver in
     * progress. The driver runs some in parallel, so this is less than their sum.
     */
    durableWrite: number | null;
    /** Wall time outside queue-rest's handlers: smtpd's own work, and idle time. */
    outsideQueueRest: number | null;
  };
  httpRequestsPerMessage: number | null;
  syncsPerMessage: number | null;
  /** fsync and fdatasync durations of the fs driver. */
  syncs: Record<string, LabelTimes>;
  /** queue-rest's handling time by smtpd request type. */
  calls: Record<string, LabelTimes>;
  /** HTTP round trips by route, as queue-rest saw them. */
  http: Record<string, LabelTimes>;
  /** Frontend handling by route, from its request log. */
  frontend: Record<string, LabelTimes>;
}

/** Event series of a rest run; any may be missing when probes were off or failed. */
export interface RunEvents {
  calls?: EventSeries;
  http?: EventSeries;
  frontendRequests?: EventSeries;
  syncs?: EventSeries;
}

function perMessage(totalMs: number | null, messages: number): number | null {
  return totalMs === null || messages === 0 ? null : totalMs / messages;
}

/** Splits the wall time of `window`, in which `messages` messages went through, per message. */
export function phaseBudget(window: TimeWindow, messages: number, events: RunEvents): PhaseBudget {
  const wallMs = window.end - window.start;
  const calls = timesInWindow(events.calls, window);
  const http = timesInWindow(events.http, window);
  const frontend = timesInWindow(events.frontendRequests, window);
  const syncs = timesInWindow(events.syncs, window);

  const callTotal = events.calls === undefined ? null : sumTimes(calls).totalMs;
  const httpSum = events.http === undefined ? null : sumTimes(http);
  const frontendTotal = events.frontendRequests === undefined ? null : sumTimes(frontend).totalMs;
  const syncSum = events.syncs === undefined ? null : sumTimes(syncs);

  return {
    messages,
    window,
    perMessageMs: {
      wall: messages === 0 ? 0 : wallMs / messages,
      queueRest: perMessage(callTotal, messages),
      http: perMessage(httpSum?.totalMs ?? null, messages),
      frontend: perMessage(frontendTotal, messages),
      durableWrite: perMessage(
        events.syncs === undefined ? null : busyTimeInWindow(events.syncs, window),
        messages,
      ),
      outsideQueueRest: perMessage(callTotal === null ? null : wallMs - callTotal, messages),
    },
    httpRequestsPerMessage: perMessage(httpSum?.count ?? null, messages),
    syncsPerMessage: perMessage(syncSum?.count ?? null, messages),
    syncs,
    calls,
    http,
    frontend,
  };
}
