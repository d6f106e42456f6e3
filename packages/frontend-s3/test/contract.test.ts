import { runDriverContract } from '@smtpq/conformance/vitest';
import { afterAll, beforeAll } from 'vitest';
import { openS3Driver } from '../src/index.js';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { RawS3 } from './helpers/raw-s3.js';
import { freshPrefix, memoryLogger } from './helpers/s3-store.js';

const BUCKET = 'smtpq-contract';

let moto: MotoServer;
let raw: RawS3;

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
  raw = new RawS3(moto.endpoint, BUCKET);
});

afterAll(async () => {
  raw?.close();
  await moto?.stop();
});

runDriverContract('s3', async () => {
  const prefix = freshPrefix('contract');
  const open = () =>
    openS3Driver({ bucket: BUCKET, prefix, endpoint: moto.endpoint, logger: memoryLogger() });
  return {
    driver: await open(),
    reopen: open,
    destroy: async () => {
      for (const object of await raw.objects(prefix)) await raw.delete(object.key);
    },
  };
});
