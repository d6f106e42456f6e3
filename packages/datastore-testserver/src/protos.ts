import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Options of the proto loader: camelCase field names, int64 as decimal strings, enums as their
 * names, bytes as Buffers, and a virtual field naming the member set in each oneof.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
};

/**
 * Returns the folders that hold the Datastore v1 protos shipped by @google-cloud/datastore and
 * the google/api, google/protobuf and google/type protos they import, shipped by google-gax.
 */
export function protoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const datastoreMain = require.resolve('@google-cloud/datastore');
  const gaxMain = createRequire(datastoreMain).resolve('google-gax');
  return [join(dirname(datastoreMain), '..', 'protos'), join(dirname(gaxMain), '..', 'protos')];
}

let cached: grpc.GrpcObject | undefined;

/** Loads the `google.datastore.v1` package from the shipped .proto files (once per process). */
export function loadDatastoreProtos(): grpc.GrpcObject {
  if (cached !== undefined) return cached;
  const definition = protoLoader.loadSync('google/datastore/v1/datastore.proto', {
    ...LOADER_OPTIONS,
    includeDirs: protoIncludeDirs(),
  });
  cached = grpc.loadPackageDefinition(definition);
  return cached;
}

/** The client constructor of the `google.datastore.v1.Datastore` service. */
export function datastoreServiceClient(): grpc.ServiceClientConstructor {
  const root = loadDatastoreProtos() as unknown as {
    google: { datastore: { v1: { Datastore: grpc.ServiceClientConstructor } } };
  };
  return root.google.datastore.v1.Datastore;
}
