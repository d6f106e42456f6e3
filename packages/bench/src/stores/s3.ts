import { MOTO_PACKAGES, motoStart, TEST_ENVIRONMENT } from '@smtpq/frontend-s3/testing';
import { CountingProxy } from '../counting-proxy.js';
import type { BenchTarget } from './target.js';

const BUCKET = 'smtpq-bench';

/**
 * Starts moto's S3 server on 127.0.0.1 with the helper the S3 frontend's tests use (it
 * installs moto into a virtualenv on the first run), creates a bucket, and puts a counting
 * proxy beside it.
 */
export async function s3TargetStart(): Promise<BenchTarget> {
  // The bucket is created by an S3 client in this process, which would print a warning about
  // the Node version on stderr, between the progress lines.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const moto = await motoStart();
  let proxy: CountingProxy | undefined;
  try {
    await moto.bucketCreate(BUCKET);
    proxy = await CountingProxy.start(moto.port);
  } catch (error) {
    await moto.stop();
    throw error;
  }
  const counting = proxy;

  return {
    name: 's3',
    server: `moto (${MOTO_PACKAGES[0]}) on 127.0.0.1, serving one request at a time`,
    caveat:
      'latency and throughput are those of moto, an S3 mock in one Python process, not of ' +
      'AWS S3. The request counts are what the driver sends to any S3 server',
    storeUrl: (label) => `s3://${BUCKET}/${label}?endpoint=${moto.endpoint}`,
    env: TEST_ENVIRONMENT,
    countingRoute: {
      method:
        'counted by an HTTP proxy between the frontend and moto, in a run of sequential commits ' +
        'of its own',
      storeUrl: (label) => `s3://${BUCKET}/${label}?endpoint=${counting.endpoint}`,
      counts: () => counting.requestCounts(),
    },
    stop: async () => {
      await counting.stop();
      await moto.stop();
    },
  };
}
