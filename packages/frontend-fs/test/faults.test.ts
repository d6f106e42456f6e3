import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageFault } from '@smtpq/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FsDriver, type FsLayer, openFsDriver } from '../src/index.js';
import { blobText, chunksOf, errnoError, faultyLayer, tempFolder } from './helpers.js';

type FaultRule = (op: keyof FsLayer, path: string) => Error | undefined;

let rule: FaultRule | null = null;
let driver: FsDriver;
let root: string;
let dir: string;
let removeFolder: () => Promise<void>;

beforeEach(async () => {
  const folder = await tempFolder();
  removeFolder = folder.remove;
  root = folder.path;
  dir = join(root, 'store');
  rule = null;
  driver = await openFsDriver(dir, { fs: faultyLayer((op, path) => rule?.(op, path)) });
});

afterEach(async () => {
  rule = null;
  await driver.close();
  await removeFolder();
});

/** Fails every call `op` (on paths that contain `pathPart`, when given) with errno `code`. */
function failOn(op: keyof FsLayer, code: string, pathPart?: string): FaultRule {
  return (call, path) =>
    call === op && (pathPart === undefined || path.includes(pathPart))
      ? errnoError(code, op, path)
      : undefined;
}

async function faultOf(promise: Promise<unknown>): Promise<StorageFault> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StorageFault) return error;
    throw error;
  }
  throw new Error('expected a StorageFault, but the call succeeded');
}

const KINDS: Array<[string, StorageFault['kind']]> = [
  ['ENOSPC', 'full'],
  ['EDQUOT', 'full'],
  ['EFBIG', 'full'],
  ['EROFS', 'read-only'],
  ['ETIMEDOUT', 'timeout'],
  ['EIO', 'unavailable'],
  ['EACCES', 'unavailable'],
  ['EPERM', 'unavailable'],
  ['EMFILE', 'unavailable'],
  ['ENFILE', 'unavailable'],
];

describe('fault kinds', () => {
  it.each(KINDS)('%s on write is a %s fault naming the call and path', async (code, kind) => {
    rule = failOn('write', code);

    const fault = await faultOf(driver.create('msg/0000abcd', Buffer.from('record')));

    expect(fault.kind).toBe(kind);
    expect(fault.message).toContain('create msg/0000abcd');
    expect(fault.message).toContain(`write ${join(dir, 'tmp')}`);
    expect(fault.message).toContain(code);
    rule = null;
    expect(await driver.get('msg/0000abcd')).toBeNull();
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });
});

describe('faults leave the old state', () => {
  it('replace with a full disk keeps the record', async () => {
    const version = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;
    rule = failOn('fsync', 'ENOSPC', '/d.');

    const fault = await faultOf(driver.replace('msg/0000abcd', Buffer.from('v2'), version));

    expect(fault.kind).toBe('full');
    expect(fault.message).toContain('replace msg/0000abcd');
    rule = null;
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe('v1');
    expect(record?.version).toBe(version);
    expect(await readdir(join(dir, 'records/msg/0000abcd@'))).toEqual([
      `d.${version}`,
      `v.${version}`,
    ]);
  });

  it('create on a read-only disk is a read-only fault', async () => {
    rule = failOn('mkdir', 'EROFS');

    const fault = await faultOf(driver.create('msg/0000abcd', Buffer.from('v1')));

    expect(fault.kind).toBe('read-only');
    expect(fault.message).toContain('mkdir');
    rule = null;
    expect(await driver.list('', { limit: 10 })).toEqual([]);
  });

  it('delete with a failing disk keeps the record', async () => {
    const version = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;
    rule = failOn('unlink', 'EIO', '/v.');

    const fault = await faultOf(driver.delete('msg/0000abcd', version));

    expect(fault.kind).toBe('unavailable');
    expect(fault.message).toContain(`unlink ${join(dir, 'records/msg/0000abcd@')}`);
    rule = null;
    expect((await driver.get('msg/0000abcd'))?.version).toBe(version);
  });

  it('reads fail as unavailable on an I/O error', async () => {
    await driver.create('msg/0000abcd', Buffer.from('v1'));
    rule = failOn('readdir', 'EIO');

    const fault = await faultOf(driver.get('msg/0000abcd'));
    expect(fault.kind).toBe('unavailable');
    expect(fault.message).toContain('get msg/0000abcd');
    expect((await faultOf(driver.list('msg/', { limit: 10 }))).kind).toBe('unavailable');
  });

  it('a full disk in the middle of a blob keeps the old blob', async () => {
    await driver.blobPut('body/0000abcd/b', chunksOf('old body'));
    let writes = 0;
    rule = (op, path) => {
      if (op !== 'write') return undefined;
      writes += 1;
      return writes === 2 ? errnoError('ENOSPC', op, path) : undefined;
    };

    const fault = await faultOf(driver.blobPut('body/0000abcd/b', chunksOf('new ', 'body')));

    expect(fault.kind).toBe('full');
    expect(fault.message).toContain('blobPut body/0000abcd/b');
    rule = null;
    expect(await blobText(await driver.blobGet('body/0000abcd/b'))).toBe('old body');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('a failed blob rename keeps the old blob', async () => {
    await driver.blobPut('body/0000abcd/b', chunksOf('old body'));
    rule = failOn('rename', 'EACCES');

    const fault = await faultOf(driver.blobPut('body/0000abcd/b', chunksOf('new body')));

    expect(fault.kind).toBe('unavailable');
    rule = null;
    expect(await blobText(await driver.blobGet('body/0000abcd/b'))).toBe('old body');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('a read error in the middle of a blob fails its stream', async () => {
    await driver.blobPut('body/0000abcd/b', chunksOf(Buffer.alloc(200_000, 7)));
    let reads = 0;
    rule = (op, path) => {
      if (op !== 'read') return undefined;
      reads += 1;
      return reads === 2 ? errnoError('EIO', op, path) : undefined;
    };

    const blob = await driver.blobGet('body/0000abcd/b');
    const fault = await faultOf(blobText(blob));

    expect(fault.kind).toBe('unavailable');
    expect(fault.message).toContain('blobGet body/0000abcd/b');
  });
});

describe('health', () => {
  it.each([
    ['open', 'EROFS', 'read-only'],
    ['write', 'ENOSPC', 'full'],
    ['fsync', 'EIO', 'unavailable'],
  ] as const)('%s failing with %s reports %s', async (op, code, kind) => {
    rule = failOn(op, code);

    const fault = await faultOf(driver.health());

    expect(fault.kind).toBe(kind);
    expect(fault.message).toContain('health');
    rule = null;
    await expect(driver.health()).resolves.toBeUndefined();
  });
});

describe('open', () => {
  it('on a read-only disk is a read-only fault', async () => {
    const layer = faultyLayer((op, path) =>
      op === 'mkdir' ? errnoError('EROFS', op, path) : undefined,
    );

    const fault = await faultOf(openFsDriver(join(root, 'new-store'), { fs: layer }));

    expect(fault.kind).toBe('read-only');
    expect(fault.message).toContain(`open ${join(root, 'new-store')}`);
  });
});
