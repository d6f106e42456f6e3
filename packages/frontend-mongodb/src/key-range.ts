import type { Filter } from 'mongodb';

/**
 * Returns the `_id` filter of the keys that start with `prefix` and sort after `after`: one
 * range, which the `_id` index serves without a collection scan. MongoDB compares strings by
 * their UTF-8 bytes, the order StorageDriver.list promises; keys are ASCII, so the upper
 * bound is the prefix with its last character raised by one.
 */
export function keyRange(prefix: string, after?: string): Filter<{ _id: string }> {
  const lower = after !== undefined && after >= prefix ? { $gt: after } : { $gte: prefix };
  if (prefix === '') return { _id: lower };

  const last = prefix.charCodeAt(prefix.length - 1);
  const upper = prefix.slice(0, -1) + String.fromCharCode(last + 1);
  return { _id: { ...lower, $lt: upper } };
}
