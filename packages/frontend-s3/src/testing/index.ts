// Test support for other packages' tests: a local S3 server, the environment to reach it, a
// fault proxy to put in front of it, and a plain client to look into its buckets.
export {
  type FaultProxy,
  FORWARD,
  faultProxyStart,
  type ProxyPlan,
  type ProxyPlanner,
  type ProxyRequest,
  SLOW_DOWN_BODY,
  seededRandom,
} from './fault-proxy.js';
export { MOTO_PACKAGES, type MotoServer, motoStart } from './moto.js';
export { RawS3 } from './raw-s3.js';
export { TEST_ENVIRONMENT } from './test-environment.js';
