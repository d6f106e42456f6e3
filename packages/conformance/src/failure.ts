import { inspect } from 'node:util';

/** A broken rule of the contract. Its message states what was expected and what came back. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

/**
 * A case that does not apply to the store under test, such as a case of an optional driver
 * method the driver lacks. Its message is the reason, which the report shows.
 */
export class CaseSkipped extends Error {
  override readonly name = 'CaseSkipped';
}

/** Ends the case as skipped, with `reason` in the report. */
export function skipCase(reason: string): never {
  throw new CaseSkipped(reason);
}

/** Throws a ConformanceFailure with `message`. */
export function fail(message: string): never {
  throw new ConformanceFailure(message);
}

/** Throws a ConformanceFailure with `message` unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) fail(message);
}

/** Formats a value on one short line for a failure message. */
export function show(value: unknown, maxLength = 160): string {
  const text =
    typeof value === 'string'
      ? JSON.stringify(value)
      : inspect(value, { breakLength: Number.POSITIVE_INFINITY, depth: 4 });
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 3)}...`;
}

/** Returns the message of a caught error, with its code when it has one. */
export function errorText(error: unknown): string {
  if (error instanceof ConformanceFailure || error instanceof CaseSkipped) return error.message;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
