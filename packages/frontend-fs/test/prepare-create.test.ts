import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FsDriver } from '../src/index.js';
import { tempDriver } from './helpers.js';

/*
 * prepareCreate stages a record durably in tmp/ and publish() renames it into place: the queue
 * store stages the record that commits a bundle while the bundle's envelopes are written.
 */

let driver: FsDriver;
let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ driver, dir, cleanup } = await tempDriver());
});

afterEach(async () => {
  await cleanup();
});

describe('prepareCreate', () => {
  it('stays invisible until publish', async () => {
    const staged = await driver.prepareCreate('msg/0000abcd', Buffer.from('committed'));

    const before = await driver.get('msg/0000abcd');
    const listed = await driver.list('msg/', { limit: 10 });
    const version = await staged.publish();

    expect(before).toBeNull();
    expect(listed).toEqual([]);
    expect(version).not.toBeNull();
    expect(await driver.get('msg/0000abcd')).toEqual({
      data: Buffer.from('committed'),
      version,
    });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('publish finds a key created meanwhile and leaves it', async () => {
    const staged = await driver.prepareCreate('msg/0000abcd', Buffer.from('second'));
    const first = await driver.create('msg/0000abcd', Buffer.from('first'));

    expect(await staged.publish()).toBeNull();
    expect(await driver.get('msg/0000abcd')).toEqual({
      data: Buffer.from('first'),
      version: first,
    });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('discard removes the staged record', async () => {
    const staged = await driver.prepareCreate('env/0000abcd/0000abcd00000001', Buffer.from('e'));

    await staged.discard();
    await staged.discard();

    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    await expect(staged.publish()).rejects.toThrow('already published or discarded');
    expect(await driver.get('env/0000abcd/0000abcd00000001')).toBeNull();
  });
});
