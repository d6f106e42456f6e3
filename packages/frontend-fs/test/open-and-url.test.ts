import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFsDriver, parseFsStoreUrl } from '../src/index.js';
import { tempFolder } from './helpers.js';

describe('parseFsStoreUrl', () => {
  it('accepts absolute and relative forms', () => {
    expect(parseFsStoreUrl('fs:///var/lib/smtpq')).toBe('/var/lib/smtpq');
    expect(parseFsStoreUrl('fs:///var/lib/smtpq/')).toBe('/var/lib/smtpq');
    expect(parseFsStoreUrl('fs://./var')).toBe(resolve('var'));
    expect(parseFsStoreUrl('fs://./a/b/../c')).toBe(resolve('a/c'));
    expect(parseFsStoreUrl('fs://.')).toBe(process.cwd());
    expect(parseFsStoreUrl('fs:///srv/mail%20queue')).toBe('/srv/mail queue');
  });

  it.each([
    'fs://var/lib/smtpq',
    'fs:/var/lib/smtpq',
    'fs://',
    'fs://../var',
    'fs://host/var',
    'fs:///var?sync=1',
    'fs:///var#x',
    '/var/lib/smtpq',
    's3://bucket/prefix',
    '',
  ])('rejects %j naming the URL and the expected forms', (url) => {
    expect(() => parseFsStoreUrl(url)).toThrow(`invalid fs store URL ${JSON.stringify(url)}`);
    expect(() => parseFsStoreUrl(url)).toThrow('fs:///absolute/path or fs://./relative/path');
  });

  it('rejects a malformed percent-escape and a NUL byte', () => {
    expect(() => parseFsStoreUrl('fs:///var/%zz')).toThrow(/malformed percent-escape/);
    expect(() => parseFsStoreUrl('fs:///var/%00')).toThrow(/NUL byte/);
  });
});

describe('openFsDriver', () => {
  let root: string;
  let remove: () => Promise<void>;

  beforeEach(async () => {
    ({ path: root, remove } = await tempFolder());
  });

  afterEach(async () => {
    await remove();
  });

  it('creates the folder and its parents', async () => {
    const dir = join(root, 'a/b/store');

    const driver = await openFsDriver(dir);
    await driver.close();

    expect(driver.dir).toBe(dir);
    expect((await readdir(dir)).sort()).toEqual(['FORMAT', 'blobs', 'records', 'tmp']);
    expect(await readFile(join(dir, 'FORMAT'), 'utf8')).toBe('smtpq-fs 1\n');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('opens an existing empty folder', async () => {
    const driver = await openFsDriver(root);
    await driver.create('msg/0000abcd', Buffer.from('x'));
    await driver.close();

    const again = await openFsDriver(root);
    expect((await again.get('msg/0000abcd'))?.data.toString()).toBe('x');
    await again.close();
  });

  it('rejects a folder that holds other files', async () => {
    await writeFile(join(root, 'notes.txt'), 'not a store');

    await expect(openFsDriver(root)).rejects.toThrow(
      `${root} is not an fs store: it has no FORMAT file and contains "notes.txt"`,
    );
    expect(await readdir(root)).toEqual(['notes.txt']);
  });

  it('rejects a store of another format', async () => {
    await writeFile(join(root, 'FORMAT'), 'smtpq-fs 9\n');
    await mkdir(join(root, 'records'));

    await expect(openFsDriver(root)).rejects.toThrow(
      `${root} contains an fs store of format "smtpq-fs 9", but this driver reads only "smtpq-fs 1"`,
    );
  });

  it('two drivers on one folder see each other', async () => {
    const [first, second] = await Promise.all([openFsDriver(root), openFsDriver(root)]);

    const version = await first.create('msg/0000abcd', Buffer.from('shared'));
    expect(await second.get('msg/0000abcd')).toEqual({ data: Buffer.from('shared'), version });
    expect(await second.create('msg/0000abcd', Buffer.from('again'))).toBeNull();

    await first.close();
    await second.close();
  });
});
