import type { Evpid, Msgid } from '@smtpq/protocol';

/**
 * The key layout of the queue in any driver. Envelope keys sort by evpid because the msgid is
 * the evpid's high half, so listing `env/` walks the queue in evpid order.
 */
export const KEY_PREFIX = {
  message: 'msg/',
  envelope: 'env/',
  expired: 'expired/',
  body: 'body/',
  node: 'node/',
} as const;

export function messageKey(msgid: Msgid): string {
  return `${KEY_PREFIX.message}${msgid}`;
}

/** Key of the lease record of pool node `name` (names fit a key segment as they are). */
export function nodeKey(name: string): string {
  return `${KEY_PREFIX.node}${name}`;
}

export function envelopePrefix(msgid: Msgid): string {
  return `${KEY_PREFIX.envelope}${msgid}/`;
}

export function envelopeKey(evpid: Evpid): string {
  return `${KEY_PREFIX.envelope}${evpid.slice(0, 8)}/${evpid}`;
}

export function expiredKey(msgid: Msgid): string {
  return `${KEY_PREFIX.expired}${msgid}`;
}

export function bodyPrefix(msgid: Msgid): string {
  return `${KEY_PREFIX.body}${msgid}/`;
}

/**
 * A blob key of its own for every body upload, so that a failed or concurrent upload never
 * touches the body a message record points to. The upload time (ms, hex) lets garbage
 * collection tell an abandoned upload from one in progress.
 */
export function bodyKey(msgid: Msgid, uploadedAtMs: number, uploadId: string): string {
  return `${bodyPrefix(msgid)}${uploadedAtMs.toString(16).padStart(12, '0')}-${uploadId}`;
}

/** Returns the upload time of a body key, or null when the key is not of that form. */
export function bodyKeyTime(key: string): number | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const match = /^([0-9a-f]{12})-[0-9a-f]+$/.exec(name);
  return match === null ? null : Number.parseInt(match[1] ?? '', 16);
}

/** Returns the evpid of an envelope key, or null for any other key. */
export function evpidOfKey(key: string): Evpid | null {
  const match = /^env\/[0-9a-f]{8}\/([0-9a-f]{16})$/.exec(key);
  return match === null ? null : (match[1] ?? null);
}

/** Returns the msgid part of a `msg/`, `env/`, `expired/` or `body/` key. */
export function msgidOfKey(key: string): Msgid | null {
  const match = /^(?:msg|env|expired|body)\/([0-9a-f]{8})(?:\/|$)/.exec(key);
  return match === null ? null : (match[1] ?? null);
}
