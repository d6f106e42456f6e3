import { setTimeout as sleep } from 'node:timers/promises';
import { StorageFault } from '@smtpq/store';

/** gRPC status codes the driver tells apart (the numbers of google.rpc.Code). */
export const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** How long the driver waits for the service and how it retries. Every field is in ms. */
export interface RetryPolicy {
  /** Deadline of one call to the service. */
  rpcTimeoutMs: number;
  /** Deadline of one call that writes chunks of a blob (up to 8 MiB). */
  chunkRpcTimeoutMs: number;
  /**
   * Time an operation keeps retrying unavailable, overloaded or timed-out calls, counted from
   * its first failure. After it, the operation fails with a StorageFault.
   */
  faultBudgetMs: number;
  /** Time an operation keeps retrying transactions that failed on contention (ABORTED). */
  contentionBudgetMs: number;
  /** First backoff delay; it doubles on each retry up to `maxBackoffMs`, with full jitter. */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  rpcTimeoutMs: 10_000,
  chunkRpcTimeoutMs: 30_000,
  faultBudgetMs: 10_000,
  contentionBudgetMs: 10_000,
  initialBackoffMs: 25,
  maxBackoffMs: 1000,
};

/** What an attempt knows about the attempts before it. */
export interface AttemptInfo {
  /** 1 for the first attempt. */
  attempt: number;
  /**
   * True when an earlier attempt failed in a way that leaves its writes unknown (the call may
   * have been applied before the connection broke or the deadline passed).
   */
  uncertain: boolean;
}

type Classification = 'contention' | 'transient' | 'unavailable' | 'other';

/** Returns the gRPC status code of an error from the Google client, or undefined. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function classify(error: unknown): Classification {
  switch (grpcCode(error)) {
    case GRPC.ABORTED:
      return 'contention';
    case GRPC.UNAVAILABLE:
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.RESOURCE_EXHAUSTED:
    case GRPC.INTERNAL:
    case GRPC.UNKNOWN:
    case GRPC.CANCELLED:
      return 'transient';
    // The project, the database or the credentials are wrong: retrying cannot help, but the
    // storage (not the request) is at fault, so the answer is a 503.
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
    case GRPC.FAILED_PRECONDITION:
      return 'unavailable';
    default:
      return 'other';
  }
}

/**
 * Runs `attempt` until it succeeds, retrying contention and transient faults with jittered
 * exponential backoff inside the policy's budgets. A fault that outlasts its budget, or one
 * that retrying cannot mend, becomes a StorageFault; any other error is thrown as it is.
 */
export async function withRetries<T>(
  operation: string,
  policy: RetryPolicy,
  attempt: (info: AttemptInfo) => Promise<T>,
): Promise<T> {
  let firstFault: number | undefined;
  let firstContention: number | undefined;
  let uncertain = false;

  for (let number = 1; ; number++) {
    try {
      return await attempt({ attempt: number, uncertain });
    } catch (error) {
      if (error instanceof StorageFault) throw error;
      const kind = classify(error);
      const now = Date.now();

      if (kind === 'contention') {
        firstContention ??= now;
        if (now - firstContention >= policy.contentionBudgetMs) {
          throw new StorageFault(
            'unavailable',
            `${operation}: still contended after ${number} attempts in ${policy.contentionBudgetMs} ms`,
            { cause: error },
          );
        }
      } else if (kind === 'transient') {
        uncertain = true;
        firstFault ??= now;
        if (now - firstFault >= policy.faultBudgetMs) {
          const timedOut = grpcCode(error) === GRPC.DEADLINE_EXCEEDED;
          throw new StorageFault(
            timedOut ? 'timeout' : 'unavailable',
            `${operation}: Datastore ${timedOut ? 'timed out' : 'unavailable'} after ${number} attempts in ${policy.faultBudgetMs} ms: ${grpcMessage(error)}`,
            { cause: error },
          );
        }
      } else if (kind === 'unavailable') {
        throw new StorageFault('unavailable', `${operation}: ${grpcMessage(error)}`, {
          cause: error,
        });
      } else {
        throw error;
      }

      await sleep(backoffMs(policy, number));
    }
  }
}

/** Full jitter: a random delay up to the exponential bound of this attempt. */
function backoffMs(policy: RetryPolicy, attempt: number): number {
  const bound = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  return Math.random() * bound;
}

/**
 * Runs one call of the Google client and turns an error without a gRPC status (such as
 * missing credentials) into a StorageFault, since the storage cannot be reached.
 */
export async function clientCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (grpcCode(error) !== undefined) throw error;
    throw new StorageFault(
      'unavailable',
      `${operation}: the Datastore client failed: ${grpcMessage(error)}`,
      { cause: error },
    );
  }
}

/**
 * Returns an error's message without the empty "Resolution note:" that grpc-js appends to
 * connection errors.
 */
export function grpcMessage(error: unknown): string {
  return (error as Error).message.replace(/\s*Resolution note:\s*$/, '');
}
