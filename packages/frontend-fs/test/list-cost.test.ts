import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FsDriver } from '../src/index.js';
import { TracingLayer, tempDriver } from './helpers.js';

/*
 * A list reads the folder the prefix names once, then one small record folder per key it
 * returns: its cost follows the page size, not the number of keys in the store. Counting
 * readdir calls pins that without measuring time.
 */

const KEYS = 300;
const trace = new TracingLayer();
let driver: FsDriver;
let cleanup: () => Promise<void>;
const keys: string[] = [];

beforeAll(async () => {
  ({ driver, cleanup } = await tempDriver(trace.layer));
  for (let index = 1; index <= KEYS; index++) {
    const key = `env/0000abcd/0000abcd${index.toString(16).padStart(8, '0')}`;
    await driver.create(key, Buffer.from('e'));
    keys.push(key);
  }
});

afterAll(async () => {
  await cleanup();
});

async function readdirsOf(call: () => Promise<string[]>) {
  trace.clear();
  const listed = await call();
  return { listed, readdirs: trace.count('readdir') };
}

describe('list cost', () => {
  it('reads one folder and one record folder per key returned', async () => {
    const { listed, readdirs } = await readdirsOf(() =>
      driver.list('env/0000abcd/', { limit: 10 }),
    );

    expect(listed).toEqual(keys.slice(0, 10));
    expect(readdirs).toBe(1 + 10);
  });

  it('skips the keys before the cursor without reading them', async () => {
    const { listed, readdirs } = await readdirsOf(() =>
      driver.list('env/0000abcd/', { after: keys[279], limit: 10 }),
    );

    expect(listed).toEqual(keys.slice(280, 290));
    expect(readdirs).toBe(1 + 10);
  });

  it('walks down from a shorter prefix', async () => {
    const { listed, readdirs } = await readdirsOf(() =>
      driver.list('env/', { after: keys[149], limit: 5 }),
    );

    expect(listed).toEqual(keys.slice(150, 155));
    expect(readdirs).toBe(2 + 5);
  });
});
