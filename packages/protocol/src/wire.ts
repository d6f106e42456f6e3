import type { Evpid, Msgid } from './ids.js';

/** Protocol version served under `/v1`. */
export const PROTOCOL_VERSION = 1;

export const API_PREFIX = '/v1';

/** Optional features a frontend can announce in `GET /v1`. */
export const FEATURES = ['bundle', 'message-walk', 'message-list', 'idempotency', 'pool'] as const;
export type Feature = (typeof FEATURES)[number];

export const HEADER = {
  contentDigest: 'content-digest',
  idempotencyKey: 'idempotency-key',
  ifMatch: 'if-match',
  ifNoneMatch: 'if-none-match',
  etag: 'etag',
  retryAfter: 'retry-after',
  requestId: 'x-request-id',
  /** Node context of a pool request: the node name, sent together with `lease`. */
  node: 'smtpq-node',
  lease: 'smtpq-lease',
} as const;

/** Default limits of a frontend; each is configurable on the server. */
export const DEFAULT_LIMITS = {
  /** Maximum message body in bytes (64 MiB). */
  maxMessageBytes: 64 * 1024 * 1024,
  /** Maximum envelope in bytes (64 KiB). */
  maxEnvelopeBytes: 64 * 1024,
  /** Maximum envelopes per walk page. */
  maxWalkPageEnvelopes: 5000,
  /** Maximum envelope bytes per walk page, before base64 (4 MiB). */
  maxWalkPageBytes: 4 * 1024 * 1024,
  /** Maximum envelopes in one bundle. */
  maxBundleEnvelopes: 10000,
} as const;

/** Envelopes per walk page when the client gives no `limit`. */
export const DEFAULT_WALK_PAGE_ENVELOPES = 1000;

/** Default age in seconds after which an uncommitted message is removed (2 hours). */
export const DEFAULT_UNCOMMITTED_MAX_AGE_SECONDS = 2 * 60 * 60;

export type Limits = { [K in keyof typeof DEFAULT_LIMITS]: number };

/** `GET /v1`. */
export interface ServiceInfo {
  protocol: 'smtpq';
  version: number;
  features: Feature[];
  limits: Limits;
  uncommittedMaxAgeSeconds: number;
  /** The store kind behind the frontend, such as `fs` or `s3`. */
  store: string;
}

/** `GET /v1/health`. */
export interface HealthStatus {
  status: 'ok';
}

export type MessageState = 'open' | 'committed';

/** `GET /v1/messages/{msgid}` and entries of `GET /v1/messages`. */
export interface MessageInfo {
  msgid: Msgid;
  state: MessageState;
  /** Creation time, ISO 8601 in UTC. */
  createdAt: string;
  /** Body size in bytes, or null while no body is stored. */
  bodySize: number | null;
  /** Lower-case hex SHA-256 of the body, or null while no body is stored. */
  bodySha256: string | null;
  /** Pool node that owns the message, or null for a message created without node context. */
  owner: string | null;
}

/** `201` of a message create. */
export interface MessageCreated {
  msgid: Msgid;
}

/** `201` of an envelope create, `200` of an update (the ETag header carries the same etag). */
export interface EnvelopeWritten {
  evpid: Evpid;
  etag: string;
}

/** One envelope of a walk page. */
export interface WalkEntry {
  evpid: Evpid;
  etag: string;
  /** Envelope bytes, base64. */
  data: string;
}

/** `GET /v1/walk` and `GET /v1/messages/{msgid}/envelopes`. */
export interface WalkPage {
  envelopes: WalkEntry[];
  /** Opaque cursor of the next page; null exactly when `end` is true. */
  next: string | null;
  /** True on the last page: there is nothing after it. */
  end: boolean;
}

/** `GET /v1/messages`. */
export interface MessageListPage {
  messages: MessageInfo[];
  next: string | null;
  end: boolean;
}

/** Idempotency keys: 1 to 128 characters of letters, digits and `-._~`. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;
