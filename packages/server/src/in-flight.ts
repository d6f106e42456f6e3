import type { ServerResponse } from 'node:http';

/** The responses a server has not finished yet, for a shutdown that lets them end. */
export class InFlightRequests {
  private readonly responses = new Set<ServerResponse>();
  private draining = false;
  private onIdle: (() => void) | undefined;

  get size(): number {
    return this.responses.size;
  }

  track(res: ServerResponse): void {
    this.responses.add(res);
    res.on('close', () => {
      this.responses.delete(res);
      if (this.responses.size === 0) this.onIdle?.();
    });
    if (this.draining) closeAfter(res);
  }

  /**
   * Makes every connection close after its current response, then waits up to `timeoutMs`
   * for the responses in flight to end. Returns false when some were still running.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    for (const res of this.responses) closeAfter(res);
    if (this.responses.size === 0) return true;

    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => {
      this.onIdle = () => resolve(true);
    });
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([idle, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function closeAfter(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}
