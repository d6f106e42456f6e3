import { MemoryDriver, type ScannedRecord, type StorageDriver } from '@smtpq/store';

/** Returns `driver` without its `scan`, so that the queue store reads with list and get. */
export function withoutScan(driver: StorageDriver): StorageDriver {
  return new Proxy(driver, {
    get: (target, property) => (property === 'scan' ? undefined : Reflect.get(target, property)),
  });
}

/**
 * A MemoryDriver whose scan also returns the `after` key itself, an off-by-one of a driver
 * that maps `after` to an inclusive bound (`$gte` in place of `$gt`).
 */
export class AfterInclusiveScanDriver extends MemoryDriver {
  override async scan(
    prefix: string,
    options: { after?: string; limit: number },
  ): Promise<ScannedRecord[]> {
    const records = await super.scan(prefix, options);
    const after = options.after;
    if (after === undefined || !after.startsWith(prefix)) return records;

    const stored = await this.get(after);
    if (stored === null) return records;
    return [{ key: after, ...stored }, ...records].slice(0, options.limit);
  }
}
