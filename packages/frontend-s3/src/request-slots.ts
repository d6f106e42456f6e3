/**
 * A counting semaphore for S3 requests in progress. Callers past the limit wait in order, so a
 * caller that fans out a thousand calls queues here, before its deadline starts, instead of in
 * the HTTP agent, where the SDK's timeouts would already be running.
 */
export class RequestSlots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }

    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.active -= 1;
      else next();
    }
  }
}
