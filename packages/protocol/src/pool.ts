import type { Msgid } from './ids.js';

/**
 * Wire types of the pool: several smtpd nodes share one queue, each message has an owner node,
 * and a node proves it is alive by holding a lease that it renews.
 */

/** Node names are host-name like and lower case, so that they fit a store key as they are. */
export const NODE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Lease ids are chosen by the frontend: 32 lower-case hex digits (128 random bits). */
export const LEASE_ID_PATTERN = /^[0-9a-f]{32}$/;

/** Minimum lease duration a node can request, in ms. */
export const MIN_LEASE_TTL_MS = 1000;

/** Maximum lease duration a node can request, in ms (10 minutes). */
export const MAX_LEASE_TTL_MS = 600_000;

/**
 * Default ms after the expiry of a lease before its messages can be claimed. The grace lets a
 * request that the fenced node started just before the expiry end before anyone claims.
 */
export const DEFAULT_CLAIM_GRACE_MS = 10_000;

export function isNodeName(value: string): boolean {
  return NODE_NAME_PATTERN.test(value);
}

export function isLeaseId(value: string): boolean {
  return LEASE_ID_PATTERN.test(value);
}

/** The node a request acts for, sent as the Smtpq-Node and Smtpq-Lease headers. */
export interface NodeContext {
  name: string;
  leaseId: string;
}

/** Body of `PUT /v1/nodes/{node}/lease`: without `leaseId` an acquire, with it a renew. */
export interface LeaseRequest {
  ttlMs: number;
  leaseId?: string;
}

/** `201` of a lease acquire and `200` of a renew. */
export interface NodeLease {
  node: string;
  leaseId: string;
  ttlMs: number;
  /** Ms until the lease expires by the frontend's clock, so the node needs no synced clock. */
  remainingMs: number;
  /** Expiry, ISO 8601 in UTC by the frontend's clock. */
  expiresAt: string;
}

/** `expired` is a live lease that was not renewed in time; `released` was given up. */
export type NodeState = 'live' | 'expired' | 'released';

/** Messages and envelopes owned by a node, or by no node. */
export interface OwnedCounts {
  messages: number;
  envelopes: number;
}

/** One entry of `GET /v1/nodes`; `messages` and `envelopes` only with `?counts=true`. */
export interface NodeInfo {
  node: string;
  state: NodeState;
  /** Ms until expiry, 0 once the lease has expired or was released. */
  remainingMs: number;
  expiresAt: string;
  /** Whether a live node may claim this node's messages now. */
  claimable: boolean;
  messages?: number;
  envelopes?: number;
}

/** `GET /v1/nodes`; `unowned` only with `?counts=true`. */
export interface NodeList {
  nodes: NodeInfo[];
  unowned?: OwnedCounts;
}

/** Body of `POST /v1/messages/{msgid}/claim`: the owner the caller saw, or null for none. */
export interface ClaimRequest {
  from: string | null;
}

/** `200` of a claim. */
export interface MessageClaimed {
  msgid: Msgid;
  owner: string;
  /** Evpids of the message's envelopes, in order. */
  evpids: string[];
}
