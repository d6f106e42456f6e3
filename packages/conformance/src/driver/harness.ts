import type { StorageDriver } from '@smtpq/store';

/** A driver opened on a store of its own, with the means to open that store again. */
export interface DriverHandle {
  driver: StorageDriver;
  /**
   * Opens the same store again, as a process restarted after a crash would. The suite never
   * closes the driver it abandons this way, because a crashed process closes nothing.
   */
  reopen: () => Promise<StorageDriver>;
  /** Removes the store; called once after each case, after the drivers are closed. */
  destroy?: () => Promise<void>;
}

/** Opens a driver on a new, empty store each time it is called. */
export type DriverFactory = () => Promise<DriverHandle>;

/** One case of the driver-level contract. */
export interface DriverCase {
  /** Stable name, as it appears in a test report. */
  name: string;
  /** Optional driver method the case is about; drivers without it do not run the case. */
  needs?: 'scan';
  run(factory: DriverFactory): Promise<void>;
}

/**
 * Opens a store, runs `work` on it, then closes every driver that `work` opened and destroys
 * the store, whatever `work` did.
 */
export async function withStore<T>(
  factory: DriverFactory,
  work: (handle: DriverHandle, opened: StorageDriver[]) => Promise<T>,
): Promise<T> {
  const handle = await factory();
  const opened: StorageDriver[] = [handle.driver];
  const tracked: DriverHandle = {
    ...handle,
    reopen: async () => {
      const driver = await handle.reopen();
      opened.push(driver);
      return driver;
    },
  };

  try {
    return await work(tracked, opened);
  } finally {
    for (const driver of new Set(opened)) await driver.close().catch(() => undefined);
    await handle.destroy?.();
  }
}
