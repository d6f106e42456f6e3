#!/usr/bin/env node
import { runServeCommand } from '@smtpq/server';
import { openS3Store } from './open-store.js';

await runServeCommand({
  programName: 'smtpq-frontend-s3',
  storeExample: 's3://my-bucket/queue?region=eu-west-1',
  openStore: openS3Store,
});
