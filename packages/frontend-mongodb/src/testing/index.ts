// Test support for other packages' tests: FerretDB on 127.0.0.1, a MongoDB wire-protocol server.
export {
  FERRETDB_MODULE,
  FERRETDB_VERSION,
  type FerretDbServer,
  ferretdbBinary,
  ferretdbBinaryPath,
  ferretdbStart,
} from './ferretdb.js';
export { EXTERNAL_URL, type TestMongo, testMongoStart, withDatabase } from './mongo-server.js';
