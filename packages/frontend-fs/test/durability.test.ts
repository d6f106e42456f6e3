import { spawnSync } from 'node:child_process';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FsDriver, openFsDriver } from '../src/index.js';
import { tempName } from '../src/temp.js';
import { blobText, chunksOf, type TraceEvent, TracingLayer, tempFolder } from './helpers.js';

/*
 * These tests pin the order of the file-system calls that makes each write durable: the new
 * bytes are fsynced before the rename that publishes them, and the folder that contains the
 * published name is fsynced before the promise resolves. Removing any of those fsyncs, or not
 * awaiting one, fails a test here.
 */

let trace: TracingLayer;
let driver: FsDriver;
let dir: string;
let removeFolder: () => Promise<void>;

beforeEach(async () => {
  const folder = await tempFolder();
  removeFolder = folder.remove;
  dir = join(folder.path, 'store');
  trace = new TracingLayer({ fsyncDelayMs: 10 });
  driver = await openFsDriver(dir, { fs: trace.layer });
});

afterEach(async () => {
  await driver.close();
  await removeFolder();
});

const done = (op: TraceEvent['op'], path: string) => (event: TraceEvent) =>
  event.op === op && event.phase === 'done' && event.path === path;
const started = (op: TraceEvent['op'], path: string, to?: string) => (event: TraceEvent) =>
  event.op === op &&
  event.phase === 'start' &&
  event.path === path &&
  (to === undefined || event.to === to);

/** Runs a driver call and returns its result with the trace index at which it resolved. */
async function traced<T>(call: () => Promise<T>): Promise<{ result: T; resolvedAt: number }> {
  trace.clear();
  const result = await call();
  return { result, resolvedAt: trace.events.length };
}

describe('write order', () => {
  it('create: fsync data, marker and staging folder, rename, fsync folders', async () => {
    const entry = join(dir, 'records/env/0000abcd/0000abcd00000001@');

    const { result: version, resolvedAt } = await traced(() =>
      driver.create('env/0000abcd/0000abcd00000001', Buffer.from('envelope')),
    );

    const publish = trace.indexOf((event) => event.op === 'rename' && event.to === entry);
    expect(publish).toBeGreaterThan(-1);
    const staging = (trace.events[publish] as TraceEvent).path;
    expect(dirname(staging)).toBe(join(dir, 'tmp'));
    const dataSynced = trace.indexOf(done('fsync', join(staging, `d.${version}`)));
    const markerSynced = trace.indexOf(done('fsync', join(staging, `v.${version}`)));
    const filesCreated = Math.max(
      trace.indexOf(done('open', join(staging, `d.${version}`))),
      trace.indexOf(done('open', join(staging, `v.${version}`))),
    );
    const stagingSyncStarted = trace.indexOf(started('fsync', staging));
    const stagingSynced = trace.indexOf(done('fsync', staging));
    expect(dataSynced).toBeGreaterThan(-1);
    expect(dataSynced).toBeLessThan(publish);
    expect(markerSynced).toBeGreaterThan(-1);
    expect(markerSynced).toBeLessThan(publish);
    // The three fsyncs run together; the folder's starts once both names are in it.
    expect(filesCreated).toBeGreaterThan(-1);
    expect(stagingSyncStarted).toBeGreaterThan(filesCreated);
    expect(stagingSynced).toBeLessThan(publish);

    const folderSynced = trace.lastIndexOf(done('fsync', dirname(entry)));
    expect(folderSynced).toBeGreaterThan(publish);
    expect(folderSynced).toBeLessThan(resolvedAt);

    // env/0000abcd/ was created for this key: its entry in env/ is synced too.
    const folderMade = trace.indexOf(done('mkdir', dirname(entry)));
    const parentSynced = trace.lastIndexOf(done('fsync', join(dir, 'records/env')));
    expect(folderMade).toBeGreaterThan(-1);
    expect(parentSynced).toBeGreaterThan(folderMade);
    expect(parentSynced).toBeLessThan(resolvedAt);
  });

  it('replace: fsync data and folder, rename the marker, fsync the folder', async () => {
    const entry = join(dir, 'records/msg/0000abcd@');
    const first = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;

    const { result: second, resolvedAt } = await traced(() =>
      driver.replace('msg/0000abcd', Buffer.from('v2'), first),
    );

    const publish = trace.indexOf(
      started('rename', join(entry, `v.${first}`), join(entry, `v.${second}`)),
    );
    const dataCreated = trace.indexOf(done('open', join(entry, `d.${second}`)));
    const dataSynced = trace.indexOf(done('fsync', join(entry, `d.${second}`)));
    const folderSyncStarts = trace.indicesOf(started('fsync', entry));
    const folderSyncs = trace.indicesOf(done('fsync', entry));
    const folderSyncedBefore = Math.max(-1, ...folderSyncs.filter((index) => index < publish));
    const folderSyncedAfter = Math.max(-1, ...folderSyncs);
    expect(publish).toBeGreaterThan(-1);
    expect(dataSynced).toBeGreaterThan(-1);
    expect(dataSynced).toBeLessThan(publish);
    // The data and the folder are fsynced together, the folder once the data file is in it.
    expect(folderSyncStarts[0]).toBeGreaterThan(dataCreated);
    expect(folderSyncedBefore).toBeGreaterThan(-1);
    expect(folderSyncedAfter).toBeGreaterThan(publish);
    expect(folderSyncedAfter).toBeLessThan(resolvedAt);
  });

  it('delete: unlink the marker, fsync the folder', async () => {
    const entry = join(dir, 'records/msg/0000abcd@');
    const version = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;

    const { result, resolvedAt } = await traced(() => driver.delete('msg/0000abcd', version));

    expect(result).toBe('deleted');
    const unlinked = trace.indexOf(done('unlink', join(entry, `v.${version}`)));
    const folderSynced = trace.indexOf(done('fsync', entry));
    expect(unlinked).toBeGreaterThan(-1);
    expect(folderSynced).toBeGreaterThan(unlinked);
    expect(folderSynced).toBeLessThan(resolvedAt);
  });

  it('blobPut: fsync the staging file, rename, fsync the folder', async () => {
    const entry = join(dir, 'blobs/body/0000abcd/upload@');

    const { resolvedAt } = await traced(() =>
      driver.blobPut('body/0000abcd/upload', chunksOf('part one, ', 'part two')),
    );

    const publish = trace.indexOf((event) => event.op === 'rename' && event.to === entry);
    expect(publish).toBeGreaterThan(-1);
    const staging = (trace.events[publish] as TraceEvent).path;
    expect(dirname(staging)).toBe(join(dir, 'tmp'));
    const lastWrite = trace.lastIndexOf(done('write', staging));
    const fileSynced = trace.indexOf(done('fsync', staging));
    expect(lastWrite).toBeGreaterThan(-1);
    expect(fileSynced).toBeGreaterThan(lastWrite);
    expect(fileSynced).toBeLessThan(publish);

    const folderSynced = trace.lastIndexOf(done('fsync', dirname(entry)));
    expect(folderSynced).toBeGreaterThan(publish);
    expect(folderSynced).toBeLessThan(resolvedAt);
  });

  it('blobDelete: unlink, fsync the folder', async () => {
    const entry = join(dir, 'blobs/body/0000abcd/upload@');
    await driver.blobPut('body/0000abcd/upload', chunksOf('bytes'));

    const { resolvedAt } = await traced(() => driver.blobDelete('body/0000abcd/upload'));

    const unlinked = trace.indexOf(done('unlink', entry));
    const folderSynced = trace.indexOf(done('fsync', dirname(entry)));
    expect(unlinked).toBeGreaterThan(-1);
    expect(folderSynced).toBeGreaterThan(unlinked);
    expect(folderSynced).toBeLessThan(resolvedAt);
  });

  it('health writes, fsyncs and removes a probe file', async () => {
    await traced(() => driver.health());

    const probeWrite = trace.indexOf(
      (event) => event.op === 'write' && event.phase === 'done' && event.path.includes('/tmp/'),
    );
    expect(probeWrite).toBeGreaterThan(-1);
    const probe = (trace.events[probeWrite] as TraceEvent).path;
    expect(trace.indexOf(done('fsync', probe))).toBeGreaterThan(probeWrite);
    expect(trace.indexOf(done('unlink', probe))).toBeGreaterThan(probeWrite);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });
});

/** Returns the pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid as number;
}

/** Returns a temporary name as a process of this host with this pid would make it. */
function tempNameOfPid(pid: number): string {
  const [host, , token, counter] = tempName().split('-');
  return `${host}-${pid}-${token}-${counter}`;
}

describe('crash leftovers', () => {
  it('are invisible, and open removes those of dead writers', async () => {
    const version = (await driver.create('msg/0000abcd', Buffer.from('committed'))) as string;
    await driver.blobPut('body/0000abcd/b', chunksOf('old body'));
    await driver.close();
    const tmp = join(dir, 'tmp');
    const pid = deadPid();

    // A blob upload that stopped after part of its bytes.
    const partialBlob = join(tmp, tempNameOfPid(pid));
    await writeFile(partialBlob, 'half a bo');
    // A create that stopped before its rename.
    const stagedRecord = join(tmp, tempNameOfPid(pid));
    await mkdir(stagedRecord);
    await writeFile(join(stagedRecord, `d.${'1'.repeat(24)}`), 'never published');
    await writeFile(join(stagedRecord, `v.${'1'.repeat(24)}`), '');
    // Files of a writer on another host: removed only once they are old.
    const oldForeign = join(tmp, 'ffffffff-1-00000000-1');
    await writeFile(oldForeign, 'old');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(oldForeign, twoHoursAgo, twoHoursAgo);
    const recentForeign = join(tmp, 'ffffffff-1-00000000-2');
    await writeFile(recentForeign, 'in progress elsewhere');
    // A file of an earlier process that had this process's pid (before a reboot).
    const [host] = tempName().split('-');
    await writeFile(join(tmp, `${host}-${process.pid}-00000000-1`), 'before the reboot');
    // A replace that stopped after writing part of its data file.
    const entry = join(dir, 'records/msg/0000abcd@');
    await writeFile(join(entry, `d.${'2'.repeat(24)}`), 'torn');
    // A delete that stopped after removing the marker.
    const halfDeleted = join(dir, 'records/msg/0000dead@');
    await mkdir(halfDeleted);
    await writeFile(join(halfDeleted, `d.${'3'.repeat(24)}`), 'deleted');

    driver = await openFsDriver(dir, { fs: trace.layer });

    expect((await readdir(tmp)).sort()).toEqual(['ffffffff-1-00000000-2']);
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe('committed');
    expect(record?.version).toBe(version);
    expect(await driver.get('msg/0000dead')).toBeNull();
    expect(await driver.get('msg/0000beef')).toBeNull();
    expect(await driver.list('msg/', { limit: 10 })).toEqual(['msg/0000abcd']);
    expect(await blobText(await driver.blobGet('body/0000abcd/b'))).toBe('old body');
    expect(await driver.blobList('', { limit: 10 })).toEqual(['body/0000abcd/b']);

    // The record's next writes work, and its delete removes the torn file with the folder.
    const next = (await driver.replace('msg/0000abcd', Buffer.from('next'), version)) as string;
    expect((await driver.get('msg/0000abcd'))?.data.toString()).toBe('next');
    expect(await driver.delete('msg/0000abcd', next)).toBe('deleted');
    await expect(stat(entry)).rejects.toMatchObject({ code: 'ENOENT' });
    // A create takes the place of the half-deleted record.
    expect(await driver.create('msg/0000dead', Buffer.from('again'))).toEqual(expect.any(String));
    expect((await driver.get('msg/0000dead'))?.data.toString()).toBe('again');
  });

  it('open keeps the temporary files of a live writer', async () => {
    const tmp = join(dir, 'tmp');
    const live = join(tmp, tempNameOfPid(process.pid));
    await writeFile(live, 'this process is writing');
    await driver.close();

    driver = await openFsDriver(dir, { fs: trace.layer });

    expect(await readdir(tmp)).toEqual([live.slice(tmp.length + 1)]);
  });
});
