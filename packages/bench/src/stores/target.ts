import type { StoreName } from '../options.js';

/** Calls or requests the storage server received, by kind (an RPC method, an HTTP method). */
export type CallCounts = Record<string, number>;

/** A storage server that the bench started on 127.0.0.1, and how frontends reach it. */
export interface BenchTarget {
  name: StoreName;
  /** Description of the server software and its settings, for the report. */
  server: string;
  /** Warning about how far the timings differ from the real service, for the report. */
  caveat: string;
  /** Returns the store URL of a new, empty store on the server. */
  storeUrl(label: string): string;
  /** Environment of each frontend process: credentials and switches for the test server. */
  env: Record<string, string>;
  /**
   * Returns the calls the server counted since it started. Present when the server counts them
   * itself, at no cost to the figures measured meanwhile.
   */
  serverCounts?(): Promise<CallCounts>;
  /** A second way to the server, through a proxy that counts requests but adds a hop. */
  countingRoute?: {
    /** Description of where the requests are counted, for the report. */
    method: string;
    storeUrl(label: string): string;
    counts(): CallCounts;
  };
  /** Stops the server and every helper process, and removes their files. */
  stop(): Promise<void>;
}

/** Calls per unit of work (a commit, a walked envelope), in total and by kind. */
export interface CallsPerUnit {
  total: number;
  byKind: CallCounts;
}

/** Returns the calls between two readings of the counters, divided by `units`. */
export function callsPerUnit(before: CallCounts, after: CallCounts, units: number): CallsPerUnit {
  const byKind: CallCounts = {};
  let total = 0;
  for (const [kind, count] of Object.entries(after)) {
    const added = count - (before[kind] ?? 0);
    if (added === 0) continue;
    byKind[kind] = added / units;
    total += added;
  }
  return { total: total / units, byKind };
}
