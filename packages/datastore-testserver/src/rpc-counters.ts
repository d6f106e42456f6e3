/** Counts of the calls each method received and of the status codes it answered. */
export class RpcCounters {
  private calls: Record<string, number> = {};
  private statuses: Record<string, Record<string, number>> = {};

  noteCall(method: string): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }

  noteStatus(method: string, code: string): void {
    const byCode = this.statuses[method] ?? {};
    byCode[code] = (byCode[code] ?? 0) + 1;
    this.statuses[method] = byCode;
  }

  /** Calls per method since the start or the last reset, such as `{ Lookup: 3, Commit: 1 }`. */
  callCounts(): Record<string, number> {
    return { ...this.calls };
  }

  /** Total of calls of every method. */
  totalCalls(): number {
    return Object.values(this.calls).reduce((sum, count) => sum + count, 0);
  }

  /** Status codes answered per method, such as `{ Commit: { OK: 3, ABORTED: 1 } }`. */
  statusCounts(): Record<string, Record<string, number>> {
    return Object.fromEntries(
      Object.entries(this.statuses).map(([method, byCode]) => [method, { ...byCode }]),
    );
  }

  reset(): void {
    this.calls = {};
    this.statuses = {};
  }
}
