import type { status } from '@grpc/grpc-js';

/** A fault scripted for the next calls of one method (or of any method). */
export interface Fault {
  /** Method name as in the proto (`Lookup`, `Commit`, ...); every method when absent. */
  method?: string;
  /** Status to fail with; without it the call is only delayed, then served. */
  code?: status;
  message?: string;
  /** Delay before the call fails or is served, in ms. */
  delayMs?: number;
  /** Number of calls the fault applies to (default 1). */
  times?: number;
}

/** Faults waiting to be applied, in the order they were added. */
export class FaultQueue {
  private readonly pending: Array<Fault & { remaining: number }> = [];

  add(fault: Fault): void {
    this.pending.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** Returns the fault for this call of `method` and uses up one of its calls, if any. */
  take(method: string): Fault | undefined {
    const index = this.pending.findIndex(
      (fault) => fault.method === undefined || fault.method === method,
    );
    const fault = this.pending[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.pending.splice(index, 1);
    return fault;
  }

  clear(): void {
    this.pending.length = 0;
  }
}
