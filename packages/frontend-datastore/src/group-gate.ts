import { StorageFault } from '@smtpq/store';

/**
 * Lets one transaction at a time run per entity group in this process. Transactions of one
 * group conflict with each other on the service (ABORTED), so running them in turn wastes no
 * calls, where running them at once would abort all but one of each round. Transactions of
 * other processes still conflict, and the retry policy handles those.
 */
export class GroupGate {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `work` once the transactions queued before it on `group` are done. Waiting longer
   * than `maxWaitMs` fails with a StorageFault of kind `timeout`, and `work` does not run.
   */
  async run<T>(group: string, maxWaitMs: number, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(group) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.tails.set(group, tail);

    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      previous.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), maxWaitMs);
      }),
    ]);
    clearTimeout(timer);

    if (!waited) {
      // Keep the queue moving: this turn ends when the one before it does.
      void previous.then(() => this.leave(group, tail, release));
      throw new StorageFault(
        'timeout',
        `waited more than ${maxWaitMs} ms behind other transactions on entity group ${group}`,
      );
    }
    try {
      return await work();
    } finally {
      this.leave(group, tail, release);
    }
  }

  private leave(group: string, tail: Promise<void>, release: () => void): void {
    release();
    if (this.tails.get(group) === tail) this.tails.delete(group);
  }
}
