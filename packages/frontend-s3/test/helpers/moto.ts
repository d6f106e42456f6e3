import './s3-env.js';

export { MOTO_PACKAGES, type MotoServer, motoStart } from '../../src/testing/moto.js';
