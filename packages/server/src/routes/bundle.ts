import { createHash } from 'node:crypto';
import { BundleReader, QueueError, readBundleEnvelopes } from '@smtpq/protocol';
import type { AppContext } from '../context.js';
import { queueStoreFor } from '../node-context.js';
import { requestChunks } from '../request-body.js';
import { contentDigest, idempotencyKey, msgidParam } from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/** Adds `PUT /v1/messages/{msgid}/bundle`: create, envelopes, body and commit in one request. */
export function addBundleRoute(routes: RouteTable, context: AppContext): void {
  const { limits } = context;

  routes.add('put', '/v1/messages/:msgid/bundle', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    const declared = contentDigest(req);

    // The digest covers the whole bundle, so it is computed over the raw request bytes. The
    // decoder bounds every part (line, envelope, count, body), so the request needs no limit
    // of its own.
    const hash = createHash('sha256');
    const chunks = requestChunks(req, res, { idleTimeoutMs: context.requestIdleTimeoutMs });
    const reader = new BundleReader(hashed(chunks, hash), {
      msgid,
      maxEnvelopeBytes: limits.maxEnvelopeBytes,
      maxBundleEnvelopes: limits.maxBundleEnvelopes,
      maxBodyBytes: limits.maxMessageBytes,
    });

    const envelopes = (await readBundleEnvelopes(reader)).map((envelope) => ({
      evpid: envelope.evpid,
      data: Buffer.from(envelope.data),
    }));

    // body() checks that the bundle ends after the body, so the hash is complete when the
    // store calls check() after the last body chunk.
    const check = (): void => {
      const digest = hash.digest();
      if (!digest.equals(declared)) {
        throw new QueueError(
          'digest-mismatch',
          `bundle SHA-256 is ${digest.toString('base64')} but Content-Digest declared ` +
            `${declared.toString('base64')}; nothing was stored, send it again`,
        );
      }
    };
    await queueStoreFor(req, res, context).messageBundle(
      msgid,
      envelopes,
      { source: reader.body(), length: reader.bodyLength, check },
      { token },
    );
    res.status(204).end();
  });
}

async function* hashed(
  source: AsyncIterable<Buffer>,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}
