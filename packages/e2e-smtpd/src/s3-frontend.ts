#!/usr/bin/env node
import { openS3Driver, parseS3StoreUrl } from '@smtpq/frontend-s3';
import { runServeCommand } from '@smtpq/server';
import { createQueueStore } from '@smtpq/store';

// The S3 frontend with the attempts of each S3 request (the driver's maxAttempts, 6 by default)
// set by the environment variable below, so that tests can make retries run out sooner. It
// takes the options of `smtpq serve`.
const ATTEMPTS_VARIABLE = 'SMTPQ_E2E_S3_MAX_ATTEMPTS';

const maxAttempts = Number(process.env[ATTEMPTS_VARIABLE]);
if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
  process.stderr.write(`${ATTEMPTS_VARIABLE} must be a positive whole number of attempts\n`);
  process.exit(1);
}

await runServeCommand({
  programName: 'smtpq-e2e-s3-frontend',
  storeExample: 's3://bucket/prefix?endpoint=http://127.0.0.1:9000',
  openStore: async (url, options) =>
    createQueueStore(
      await openS3Driver({ ...parseS3StoreUrl(url), logger: options.logger, maxAttempts }),
      options.queue,
    ),
});
