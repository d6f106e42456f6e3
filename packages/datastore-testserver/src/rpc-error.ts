import { status } from '@grpc/grpc-js';

/** A failure answered to the client with a gRPC status code and a message. */
export class RpcError extends Error {
  readonly code: status;

  constructor(code: status, message: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
  }
}

export function invalidArgument(message: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, message);
}

export function unimplemented(feature: string): RpcError {
  return new RpcError(
    status.UNIMPLEMENTED,
    `${feature} is not implemented by the smtpq Datastore test server (see its README)`,
  );
}
