import type { ErrorCode, Feature, ServiceInfo } from '@smtpq/protocol';
import type { HttpClient } from './http-client.js';
import type { CaseVars } from './vars.js';

/**
 * What a case needs to run: a token (the auth cases), a second frontend of the same store, or
 * an optional feature of `GET /v1`. A case whose need is not met is reported as skipped.
 */
export type Need = 'token' | 'url2' | Feature;

/** Limits a body can be sized by, read from `GET /v1`. */
export type LimitName = 'maxEnvelopeBytes' | 'maxMessageBytes';

/**
 * Bytes of a request or of an expected response:
 * - a string: its UTF-8 bytes, after `$name` variables are replaced;
 * - `{ bytes }`: that many bytes holding every byte value, or a limit of `GET /v1` plus `plus`;
 * - `{ bundle }`: a well-formed bundle of these envelopes and this body.
 */
export type BodySpec =
  | string
  | { bytes: number | LimitName; plus?: number; seed?: number }
  | { bundle: { envelopes: Array<[evpid: string, data: BodySpec]>; body: BodySpec } };

/** Expected response. Strings are compared after `$name` variables are replaced. */
export interface Expectation {
  status: number;
  /** The `error.code` of the JSON error body. */
  code?: ErrorCode;
  /**
   * Fields of the JSON response by dotted path (`limits.maxEnvelopeBytes`). A string starting
   * with `~` is a pattern: `~msgid`, `~evpid`, `~etag`, `~cursor`, `~integer`, `~array`,
   * `~present`, `~leaseid`.
   */
  json?: Record<string, unknown>;
  /** The exact bytes of the response. */
  body?: BodySpec;
  /** Header values, compared like `json` strings. */
  headers?: Record<string, string>;
  /** Keeps values for later steps: variable name to `json.PATH` or `header.NAME`. */
  save?: Record<string, string>;
}

/** One HTTP request and the response it must get. */
export interface RequestStep {
  method: string;
  /** Path and query; `$name` variables are replaced. */
  path: string;
  headers?: Record<string, string>;
  body?: BodySpec;
  /**
   * Content-Digest of the body: `auto` (the correct sha-256, the default for uploads), `none`,
   * `wrong` (the digest of other bytes), or a literal field value.
   */
  digest?: 'auto' | 'none' | 'wrong' | (string & {});
  /** Leaves the token out, or sends a wrong one. */
  auth?: 'none' | 'wrong';
  /** Sends the body with chunked transfer coding instead of a Content-Length. */
  chunked?: boolean;
  /** Sends the request to the second frontend. */
  via?: 'url2';
  /** The status alone, or a full expectation. */
  expect: number | Expectation;
}

/**
 * Creates a message, its envelopes and its body, and commits it when `state` is committed,
 * through single requests (no bundle), each of which must succeed. `headers` go with every
 * request, such as a pool node's Smtpq-Node and Smtpq-Lease.
 */
export interface MessageStep {
  message: string;
  state: 'open' | 'committed';
  envelopes?: Record<string, BodySpec>;
  body?: BodySpec;
  headers?: Record<string, string>;
}

/**
 * Walks `walk` (a walk path) page by page to its end, checking order, duplicates and the end
 * marker. `evpids` are the entries of this case's messages that the walk must return (in evpid
 * order, whatever order the case lists them in); `data` and `etags` are checked for some.
 */
export interface WalkStep {
  walk: string;
  limit?: number;
  via?: 'url2';
  headers?: Record<string, string>;
  expect: { evpids: string[]; data?: Record<string, BodySpec>; etags?: Record<string, string> };
}

/**
 * Lists messages (`GET /v1/messages`) to the end; `msgids` are this case's messages it must
 * list. `owner` adds the `owner` filter of the pool (`''` for the unowned messages).
 */
export interface ListStep {
  list: 'open' | 'committed' | 'any';
  limit?: number;
  owner?: string;
  expect: { msgids: string[] };
}

export type Step = RequestStep | MessageStep | WalkStep | ListStep;

/** A case kept as data: requests and the responses they must get. */
export interface DataCase {
  /** Stable name, printed in every report. */
  name: string;
  /** The rule of the protocol, or the field case, that the case pins. */
  note: string;
  needs?: Need[];
  steps: Step[];
}

/** Settings of a run, with their defaults filled in. */
export interface SuiteSettings {
  /** Rounds of the two-frontend If-Match race (FC-03). */
  rounds: number;
  /** Size of the largest body sent and read back byte for byte. */
  largeBodyBytes: number;
}

/** What a case written as code gets. */
export interface CaseContext {
  http: HttpClient;
  /** The second frontend, present when the case needs `url2`. */
  http2: HttpClient | null;
  info: ServiceInfo;
  settings: SuiteSettings;
  vars: CaseVars;
}

/** A case written as code, for what data cannot express: concurrency, large bodies, long walks. */
export interface CodeCase {
  name: string;
  note: string;
  needs?: Need[];
  run(context: CaseContext): Promise<void>;
}

export type SuiteCase = DataCase | CodeCase;
