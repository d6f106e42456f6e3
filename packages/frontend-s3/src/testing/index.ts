// Test support for other packages' tests: a local S3 server and the environment to reach it.
export { MOTO_PACKAGES, type MotoServer, motoStart } from './moto.js';
export { TEST_ENVIRONMENT } from './test-environment.js';
