import { randomBytes } from 'node:crypto';
import { type MotoServer, motoStart, TEST_ENVIRONMENT } from '@smtpq/frontend-s3/testing';
import { afterAll, beforeAll } from 'vitest';
import type { StoreProvider } from '../src/cases/context.js';
import { defineBasicDeliveryCase } from '../src/cases/delivery.js';

const BUCKET = 'smtpq-e2e';

// The S3 client of this process (it creates the bucket) gets the same environment as the
// frontend: dummy credentials and no instance metadata lookups.
Object.assign(process.env, TEST_ENVIRONMENT);

let moto: MotoServer | undefined;

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
}, 600_000);

afterAll(async () => {
  await moto?.stop();
});

// Each store is a prefix of its own in one bucket; stopping moto discards them all.
const s3StoreProvider: StoreProvider = {
  name: 's3',
  frontendEnv: TEST_ENVIRONMENT,
  createStore: async () => {
    if (moto === undefined) throw new Error('moto is not running: its start failed');
    const prefix = `store-${randomBytes(6).toString('hex')}/`;
    const endpoint = encodeURIComponent(moto.endpoint);
    return `s3://${BUCKET}/${prefix}?endpoint=${endpoint}&region=us-east-1`;
  },
};

defineBasicDeliveryCase(s3StoreProvider);
