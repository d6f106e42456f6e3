/**
 * Group commit of directory fsyncs. Every write that publishes a name must fsync the folder
 * that holds it, and concurrent writes often share a folder (`records/msg`, the `env/` folder
 * of one message). A caller needs an fsync that starts after its own change: the fsync of a
 * folder starts once the I/O callbacks of the current turn of the event loop have run, and
 * every caller that arrives before it starts shares it. None is acknowledged before its
 * change is on disk.
 */
export class DirSyncs {
  /** The fsync of each folder that is scheduled but has not started yet. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly fsync: (path: string) => Promise<void>) {}

  /** Resolves once an fsync of `path` that started after this call has finished. */
  sync(path: string): Promise<void> {
    const pending = this.pending.get(path);
    if (pending !== undefined) return pending;

    const scheduled = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.pending.delete(path);
      return this.fsync(path);
    });
    this.pending.set(path, scheduled);
    return scheduled;
  }
}
