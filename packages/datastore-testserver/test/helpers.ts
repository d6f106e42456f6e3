import * as grpc from '@grpc/grpc-js';
import { datastoreServiceClient } from '../src/index.js';

export const PROJECT = 'testserver-project';

/** A raw gRPC client of the test server, with one promise-returning function per method. */
export interface RawClient {
  call(method: string, request: object): Promise<Record<string, unknown>>;
  close(): void;
}

export function rawClient(address: string): RawClient {
  const Client = datastoreServiceClient();
  const client = new Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  }) as unknown as Record<
    string,
    (request: object, callback: (error: grpc.ServiceError | null, response: object) => void) => void
  > &
    grpc.Client;

  return {
    call: (method, request) =>
      new Promise((resolve, reject) => {
        const fn = client[method];
        if (fn === undefined) throw new Error(`no method ${method}`);
        fn.call(client, { projectId: PROJECT, ...request }, (error, response) =>
          error === null ? resolve(response as Record<string, unknown>) : reject(error),
        );
      }),
    close: () => client.close(),
  };
}

/** Returns the gRPC status name a call failed with, or 'OK'. */
export async function statusOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    return grpc.status[(error as grpc.ServiceError).code] ?? String(error);
  }
}

/** Builds a key from kinds and names, as in `key('G', 'g1', 'R', 'a')`. */
export function key(...parts: string[]): object {
  const path: object[] = [];
  for (let index = 0; index < parts.length; index += 2) {
    path.push({ kind: parts[index], name: parts[index + 1] });
  }
  return { path };
}

export function blob(size: number, indexed = false): object {
  return { blobValue: Buffer.alloc(size, 7), excludeFromIndexes: !indexed };
}

export function insert(entityKey: object, properties: Record<string, object> = {}): object {
  return { insert: { key: entityKey, properties } };
}

export function nonTransactional(...mutations: object[]): object {
  return { mode: 'NON_TRANSACTIONAL', mutations };
}

/** Names of the result keys of a RunQuery response, in order. */
export function resultNames(response: Record<string, unknown>): string[] {
  const batch = response.batch as {
    entityResults?: Array<{ entity: { key: { path: Array<{ name?: string }> } } }>;
  };
  return (batch.entityResults ?? []).map(
    (result) => result.entity.key.path[result.entity.key.path.length - 1]?.name ?? '',
  );
}
