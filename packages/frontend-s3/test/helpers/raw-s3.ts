import './s3-env.js';

export { RawS3 } from '../../src/testing/raw-s3.js';
