export { S3AnswerError, S3ConfigError } from './faults.js';
export type { S3DriverLogger } from './logger.js';
export { openS3Driver, type S3DriverConfig } from './open.js';
export { openS3Store } from './open-store.js';
export type { ServerFeatures } from './probe.js';
export { KEY_SPACES, S3Driver } from './s3-driver.js';
export { parseS3StoreUrl, type S3StoreUrl } from './store-url.js';
