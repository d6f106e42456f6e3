import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { encodeBundleHead } from '../bundle.js';
import { parseContentDigest } from '../digest.js';
import { QueueError } from '../errors.js';
import { type Evpid, evpidMsgid, type Msgid } from '../ids.js';
import type {
  ClaimRequest,
  LeaseRequest,
  MessageClaimed,
  NodeContext,
  NodeLease,
  NodeList,
} from '../pool.js';
import {
  API_PREFIX,
  type EnvelopeWritten,
  HEADER,
  type HealthStatus,
  type MessageCreated,
  type MessageInfo,
  type MessageListPage,
  type MessageState,
  type ServiceInfo,
  type WalkPage,
} from '../wire.js';
import { type BodySource, type PreparedContent, prepareContent } from './body-source.js';
import { verifyBody } from './body-verify.js';
import type { ClientOptions } from './options.js';
import { expectStatus, headerValue, type ResponseData, readBuffer, readJson } from './response.js';
import { HttpTransport } from './transport.js';
import { toTransportError } from './transport-error.js';

/** One envelope of a walk page, with its bytes decoded from base64. */
export interface DecodedWalkEntry {
  evpid: Evpid;
  etag: string;
  data: Buffer;
}

/** A walk page with decoded envelopes; `end: true` with `next: null` ends the walk. */
export interface DecodedWalkPage {
  envelopes: DecodedWalkEntry[];
  next: string | null;
  end: boolean;
}

export interface WalkRequest {
  cursor?: string;
  limit?: number;
}

function messagePath(msgid: Msgid, tail = ''): string {
  return `${API_PREFIX}/messages/${encodeURIComponent(msgid)}${tail}`;
}

function leasePath(node: string): string {
  return `${API_PREFIX}/nodes/${encodeURIComponent(node)}/lease`;
}

async function jsonContent(value: unknown): Promise<PreparedContent> {
  return prepareContent(Buffer.from(JSON.stringify(value)));
}

function envelopePath(evpid: Evpid): string {
  return `${API_PREFIX}/envelopes/${encodeURIComponent(evpid)}`;
}

function decodeWalkPage(page: WalkPage): DecodedWalkPage {
  return {
    envelopes: page.envelopes.map((entry) => ({
      evpid: entry.evpid,
      etag: entry.etag,
      data: Buffer.from(entry.data, 'base64'),
    })),
    next: page.next,
    end: page.end,
  };
}

async function readNothing(response: ResponseData, requestLine: string): Promise<void> {
  await expectStatus(response, [204], requestLine);
  await response.body.dump();
}

/** Returns the lower-case hex SHA-256 of a Content-Digest field, or null without one. */
function digestHex(response: ResponseData, requestLine: string): string | null {
  const field = headerValue(response, HEADER.contentDigest);
  if (field === undefined) return null;
  try {
    return parseContentDigest(field)?.toString('hex') ?? null;
  } catch (err) {
    throw new QueueError('internal', `${requestLine}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Passes the body of `response` through a check of its size and digest, and turns a failure
 * of the connection while it streams into a TransportError.
 */
function bodyStream(
  response: ResponseData,
  requestLine: string,
  size: number,
  sha256: string | null,
) {
  const source = response.body;
  const checked = verifyBody(requestLine, size, sha256);

  source.on('error', (err) => checked.destroy(toTransportError(err, requestLine) ?? err));
  checked.on('close', () => {
    if (!source.readableEnded) source.destroy();
  });
  source.pipe(checked);
  return checked;
}

/**
 * The typed client of the smtpq protocol (`/v1`). Each method is one call: it sends one
 * request and retries it as HttpTransport describes, and every write carries an
 * Idempotency-Key (the caller's `token`, or a random one kept for the retries of the call).
 * A JSON error response is thrown as QueueError, a failure with no response as TransportError.
 */
export class QueueClient {
  private readonly transport: HttpTransport;

  constructor(options: ClientOptions) {
    this.transport = new HttpTransport(options);
  }

  /**
   * Sets the pool node that every later request acts for (the Smtpq-Node and Smtpq-Lease
   * headers), or clears it with null for single-node requests.
   */
  setNode(node: NodeContext | null): void {
    this.transport.node = node;
  }

  info(): Promise<ServiceInfo> {
    return this.transport.request({
      method: 'GET',
      path: API_PREFIX,
      read: (response, requestLine) => readJson<ServiceInfo>(response, requestLine),
    });
  }

  /** Returns `{status: 'ok'}`, or throws the frontend's 503 at once, without retrying it. */
  health(): Promise<HealthStatus> {
    return this.transport.request({
      method: 'GET',
      path: `${API_PREFIX}/health`,
      retryUnavailable: false,
      read: (response, requestLine) => readJson<HealthStatus>(response, requestLine),
    });
  }

  /** Creates a message: with `msgid` if absent (PUT), else with a msgid the server picks. */
  async messageCreate(options: { msgid?: Msgid; token?: string } = {}): Promise<Msgid> {
    const read = async (response: ResponseData, requestLine: string) => {
      await expectStatus(response, [201], requestLine);
      return (await readJson<MessageCreated>(response, requestLine)).msgid;
    };
    const idempotencyKey = options.token ?? randomUUID();

    if (options.msgid === undefined) {
      return this.transport.request({
        method: 'POST',
        path: `${API_PREFIX}/messages`,
        idempotencyKey,
        read,
      });
    }
    return this.transport.request({
      method: 'PUT',
      path: messagePath(options.msgid),
      idempotencyKey,
      read,
    });
  }

  messageInfo(msgid: Msgid): Promise<MessageInfo> {
    return this.transport.request({
      method: 'GET',
      path: messagePath(msgid),
      read: (response, requestLine) => readJson<MessageInfo>(response, requestLine),
    });
  }

  messageDelete(msgid: Msgid): Promise<void> {
    return this.transport.request({
      method: 'DELETE',
      path: messagePath(msgid),
      idempotencyKey: randomUUID(),
      read: readNothing,
    });
  }

  /** Lists messages; `owner` keeps those of one pool node, or with null the unowned ones. */
  messageList(
    options: { cursor?: string; limit?: number; state?: MessageState; owner?: string | null } = {},
  ): Promise<MessageListPage> {
    const owner = options.owner === null ? '' : options.owner;
    return this.transport.request({
      method: 'GET',
      path: `${API_PREFIX}/messages`,
      query: { cursor: options.cursor, limit: options.limit, state: options.state, owner },
      read: (response, requestLine) => readJson<MessageListPage>(response, requestLine),
    });
  }

  messageCommit(msgid: Msgid, options: { token?: string } = {}): Promise<void> {
    return this.transport.request({
      method: 'POST',
      path: messagePath(msgid, '/commit'),
      idempotencyKey: options.token ?? randomUUID(),
      read: readNothing,
    });
  }

  /** Stores the body of an open message, streamed with its Content-Length and Content-Digest. */
  async bodyPut(msgid: Msgid, body: BodySource, options: { token?: string } = {}): Promise<void> {
    const content = await prepareContent(body);
    await this.upload(messagePath(msgid, '/body'), content, options.token);
  }

  /**
   * Opens the body of a message. The stream fails at its end if the bytes differ from the
   * size and digest the server sent. A connection failure while it streams is not retried.
   */
  bodyGet(msgid: Msgid): Promise<{ size: number; sha256: string | null; stream: Readable }> {
    return this.transport.request({
      method: 'GET',
      path: messagePath(msgid, '/body'),
      read: async (response, requestLine) => {
        await expectStatus(response, [200], requestLine);
        const length = headerValue(response, 'content-length');
        const size = Number(length);
        if (length === undefined || !Number.isSafeInteger(size) || size < 0) {
          await response.body.dump();
          throw new QueueError('internal', `${requestLine}: response has no valid Content-Length`, {
            details: { contentLength: length ?? null },
          });
        }

        const sha256 = digestHex(response, requestLine);
        return { size, sha256, stream: bodyStream(response, requestLine, size, sha256) };
      },
    });
  }

  /**
   * Sends a whole SMTP transaction in one request: creates the message, its envelopes and its
   * body, and commits. The Content-Digest covers the whole bundle.
   */
  async messageBundle(
    msgid: Msgid,
    envelopes: Array<{ evpid: Evpid; data: Buffer }>,
    body: BodySource,
    options: { token?: string } = {},
  ): Promise<void> {
    const content = await prepareContent(body, (bodyLength) =>
      encodeBundleHead(envelopes, bodyLength),
    );
    await this.upload(messagePath(msgid, '/bundle'), content, options.token);
  }

  /**
   * Creates an envelope of `msgid`: with `evpid` if absent (PUT with If-None-Match: *), else
   * with an evpid the server picks.
   */
  async envelopeCreate(
    msgid: Msgid,
    data: Buffer,
    options: { evpid?: Evpid; token?: string } = {},
  ): Promise<{ evpid: Evpid; etag: string }> {
    const read = async (response: ResponseData, requestLine: string) => {
      await expectStatus(response, [201], requestLine);
      const { evpid, etag } = await readJson<EnvelopeWritten>(response, requestLine);
      return { evpid, etag };
    };
    const idempotencyKey = options.token ?? randomUUID();

    if (options.evpid === undefined) {
      return this.transport.request({
        method: 'POST',
        path: messagePath(msgid, '/envelopes'),
        idempotencyKey,
        content: await prepareContent(data),
        read,
      });
    }

    // The PUT names only the evpid, so the server cannot see a msgid that disagrees with it.
    if (evpidMsgid(options.evpid) !== msgid) {
      throw new QueueError(
        'evpid-msgid-mismatch',
        `evpid ${options.evpid} does not belong to message ${msgid}; its first 8 digits must be the msgid`,
        { details: { msgid, evpid: options.evpid } },
      );
    }
    return this.transport.request({
      method: 'PUT',
      path: envelopePath(options.evpid),
      headers: { [HEADER.ifNoneMatch]: '*' },
      idempotencyKey,
      content: await prepareContent(data),
      read,
    });
  }

  envelopeGet(evpid: Evpid): Promise<{ evpid: Evpid; data: Buffer; etag: string }> {
    return this.transport.request({
      method: 'GET',
      path: envelopePath(evpid),
      read: async (response, requestLine) => {
        await expectStatus(response, [200], requestLine);
        const etag = headerValue(response, HEADER.etag);
        const data = await readBuffer(response);
        if (etag === undefined) {
          throw new QueueError('internal', `${requestLine}: response has no ETag`);
        }
        return { evpid, data, etag };
      },
    });
  }

  /** Replaces an envelope, only while its ETag is `ifMatch` when that is given. */
  async envelopeUpdate(
    evpid: Evpid,
    data: Buffer,
    options: { ifMatch?: string; token?: string } = {},
  ): Promise<{ etag: string }> {
    return this.transport.request({
      method: 'PUT',
      path: envelopePath(evpid),
      headers: options.ifMatch === undefined ? {} : { [HEADER.ifMatch]: options.ifMatch },
      idempotencyKey: options.token ?? randomUUID(),
      content: await prepareContent(data),
      read: async (response, requestLine) => {
        await expectStatus(response, [200], requestLine);
        const { etag } = await readJson<EnvelopeWritten>(response, requestLine);
        return { etag };
      },
    });
  }

  /** Deletes an envelope, only while its ETag is `ifMatch` when that is given. */
  envelopeDelete(evpid: Evpid, options: { ifMatch?: string } = {}): Promise<void> {
    return this.transport.request({
      method: 'DELETE',
      path: envelopePath(evpid),
      headers: options.ifMatch === undefined ? {} : { [HEADER.ifMatch]: options.ifMatch },
      idempotencyKey: randomUUID(),
      read: readNothing,
    });
  }

  /** Reads one page of the walk of every committed envelope, in evpid order. */
  walk(options: WalkRequest = {}): Promise<DecodedWalkPage> {
    return this.transport.request({
      method: 'GET',
      path: `${API_PREFIX}/walk`,
      query: { cursor: options.cursor, limit: options.limit },
      read: async (response, requestLine) =>
        decodeWalkPage(await readJson<WalkPage>(response, requestLine)),
    });
  }

  /** Reads one page of the envelopes of one message; open messages need `includeUncommitted`. */
  messageWalk(
    msgid: Msgid,
    options: WalkRequest & { includeUncommitted?: boolean } = {},
  ): Promise<DecodedWalkPage> {
    return this.transport.request({
      method: 'GET',
      path: messagePath(msgid, '/envelopes'),
      query: {
        cursor: options.cursor,
        limit: options.limit,
        include: options.includeUncommitted ? 'uncommitted' : undefined,
      },
      read: async (response, requestLine) =>
        decodeWalkPage(await readJson<WalkPage>(response, requestLine)),
    });
  }

  /**
   * Acquires the lease of pool node `node`. Throws `lease-held` while another process holds a
   * live lease of that name. A retry after a lost response gets the same lease back, because
   * the frontend matches the Idempotency-Key of the call.
   */
  nodeLeaseAcquire(node: string, options: { ttlMs: number }): Promise<NodeLease> {
    return this.leasePut(node, { ttlMs: options.ttlMs }, 201);
  }

  /** Extends lease `leaseId` of `node` to `ttlMs` from now; throws `lease-lost` if it ended. */
  nodeLeaseRenew(node: string, leaseId: string, options: { ttlMs: number }): Promise<NodeLease> {
    return this.leasePut(node, { ttlMs: options.ttlMs, leaseId }, 200);
  }

  /**
   * Releases the lease of `node`, so that live nodes can claim its messages at once. With
   * `leaseId`, only while that lease is the current one (else `lease-lost`).
   */
  nodeLeaseRelease(node: string, options: { leaseId?: string } = {}): Promise<void> {
    return this.transport.request({
      method: 'DELETE',
      path: leasePath(node),
      query: { leaseId: options.leaseId },
      withoutNode: true,
      read: readNothing,
    });
  }

  /** Lists the pool nodes; with `counts`, also the messages and envelopes each one owns. */
  nodeList(options: { counts?: boolean } = {}): Promise<NodeList> {
    return this.transport.request({
      method: 'GET',
      path: `${API_PREFIX}/nodes`,
      query: { counts: options.counts ? 'true' : undefined },
      withoutNode: true,
      read: (response, requestLine) => readJson<NodeList>(response, requestLine),
    });
  }

  /**
   * Moves a committed message from owner `from` (null: unowned) to the node set with setNode.
   * Throws `claim-lost` when another node took it first and `lease-live` while the lease of
   * `from` is not claimable yet. Claiming a message the caller already owns succeeds.
   */
  async messageClaim(msgid: Msgid, options: { from: string | null }): Promise<MessageClaimed> {
    const body: ClaimRequest = { from: options.from };
    return this.transport.request({
      method: 'POST',
      path: messagePath(msgid, '/claim'),
      idempotencyKey: randomUUID(),
      content: await jsonContent(body),
      contentType: 'application/json',
      read: async (response, requestLine) => {
        await expectStatus(response, [200], requestLine);
        return readJson<MessageClaimed>(response, requestLine);
      },
    });
  }

  /** Closes the connection pool once the requests in flight have ended. */
  close(): Promise<void> {
    return this.transport.close();
  }

  private async leasePut(node: string, body: LeaseRequest, status: number): Promise<NodeLease> {
    return this.transport.request({
      method: 'PUT',
      path: leasePath(node),
      idempotencyKey: randomUUID(),
      content: await jsonContent(body),
      contentType: 'application/json',
      withoutNode: true,
      read: async (response, requestLine) => {
        await expectStatus(response, [status], requestLine);
        return readJson<NodeLease>(response, requestLine);
      },
    });
  }

  private async upload(path: string, content: PreparedContent, token?: string): Promise<void> {
    try {
      await this.transport.request({
        method: 'PUT',
        path,
        idempotencyKey: token ?? randomUUID(),
        content,
        read: readNothing,
      });
    } finally {
      await content.close();
    }
  }
}
