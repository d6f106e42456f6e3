import { describe, expect, it } from 'vitest';
import { DirSyncs } from '../src/dir-sync.js';
import { TracingLayer, tempDriver } from './helpers.js';

/** An fsync stand-in that records each call and ends when the test says so. */
function controlledFsync() {
  const calls: Array<{ path: string; finish: (error?: Error) => void }> = [];
  const fsync = (path: string) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ path, finish: (error) => (error === undefined ? resolve() : reject(error)) });
    });
  return { calls, fsync };
}

/** Resolves once `check` holds, looking again after each turn of the event loop. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

describe('directory fsync group commit', () => {
  it('callers before the fsync starts share it', async () => {
    const { calls, fsync } = controlledFsync();
    const syncs = new DirSyncs(fsync);

    const waiting = [syncs.sync('/a'), syncs.sync('/a'), syncs.sync('/a')];
    await until(() => calls.length === 1);
    calls[0]?.finish();
    await Promise.all(waiting);

    expect(calls.map((call) => call.path)).toEqual(['/a']);
  });

  it('a caller after the fsync started waits for a new one', async () => {
    const { calls, fsync } = controlledFsync();
    const syncs = new DirSyncs(fsync);
    let secondDone = false;

    const first = syncs.sync('/a');
    await until(() => calls.length === 1);
    const second = syncs.sync('/a').then(() => {
      secondDone = true;
    });
    calls[0]?.finish();
    await first;
    await until(() => calls.length === 2);

    expect(secondDone).toBe(false);
    calls[1]?.finish();
    await second;
    expect(secondDone).toBe(true);
  });

  it('folders are synced apart', async () => {
    const { calls, fsync } = controlledFsync();
    const syncs = new DirSyncs(fsync);

    const waiting = [syncs.sync('/a'), syncs.sync('/b')];
    await until(() => calls.length === 2);
    for (const call of calls) call.finish();
    await Promise.all(waiting);

    expect(calls.map((call) => call.path).sort()).toEqual(['/a', '/b']);
  });

  it('a failed fsync fails every caller that shared it', async () => {
    const { calls, fsync } = controlledFsync();
    const syncs = new DirSyncs(fsync);

    const waiting = [syncs.sync('/a'), syncs.sync('/a')].map((promise) =>
      promise.then(
        () => 'ok',
        (error: Error) => error.message,
      ),
    );
    await until(() => calls.length === 1);
    calls[0]?.finish(new Error('EIO'));

    expect(await Promise.all(waiting)).toEqual(['EIO', 'EIO']);
  });
});

describe('fsync counter', () => {
  it('counts every fsync the driver makes', async () => {
    const trace = new TracingLayer();
    const { driver, cleanup } = await tempDriver(trace.layer);
    try {
      const before = driver.counters()[0]?.value ?? 0;
      trace.clear();

      await driver.create('msg/0000abcd', Buffer.from('record'));
      await driver.blobPut(
        'body/0000abcd/upload',
        (async function* () {
          yield Buffer.from('body');
        })(),
      );

      const counter = driver.counters()[0];
      expect(counter?.name).toBe('smtpq_fs_fsyncs_total');
      expect((counter?.value ?? 0) - before).toBe(trace.count('fsync'));
      expect(trace.count('fsync')).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });
});
