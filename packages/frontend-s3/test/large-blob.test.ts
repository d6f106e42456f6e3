import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { TEST_ENVIRONMENT } from './helpers/s3-env.js';

const run = promisify(execFile);
const BUCKET = 'smtpq-large';
const MiB = 1024 * 1024;
const SCRIPT = fileURLToPath(new URL('./fixtures/blob-round-trip.mjs', import.meta.url));
const BUILT_DRIVER = fileURLToPath(new URL('../dist/index.js', import.meta.url));

let moto: MotoServer;

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
});

afterAll(async () => moto?.stop());

it('64 MiB blob round-trips under 150 MiB RSS', async () => {
  if (!existsSync(BUILT_DRIVER)) {
    throw new Error(`${BUILT_DRIVER} is missing; run pnpm build first`);
  }

  const { stdout } = await run(process.execPath, [SCRIPT], {
    env: {
      ...process.env,
      ...TEST_ENVIRONMENT,
      S3_ENDPOINT: moto.endpoint,
      S3_BUCKET: BUCKET,
      BLOB_BYTES: String(64 * MiB),
    },
    timeout: 120_000,
  });
  const result = JSON.parse(stdout) as Record<string, number | string>;

  expect(result.size).toBe(64 * MiB);
  expect(result.readSize).toBe(64 * MiB);
  expect(result.readSha256).toBe(result.sentSha256);
  expect(result.maxRssBytes).toBeLessThan(150 * MiB);
  console.log(`max RSS ${(Number(result.maxRssBytes) / MiB).toFixed(1)} MiB`);
});
