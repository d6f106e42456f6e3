import { QueueError } from './errors.js';
import { type Evpid, evpidMsgid, isEvpid, type Msgid } from './ids.js';
import { DEFAULT_LIMITS } from './wire.js';

/**
 * The bundle of `PUT /v1/messages/{msgid}/bundle`, one accepted mail in one request:
 *
 *     smtpq-bundle 1\n
 *     E <evpid> <length>\n<length bytes of envelope>\n    (0 or more)
 *     B <length>\n<length bytes of body>                 (exactly once, last)
 */
export const BUNDLE_MAGIC = 'smtpq-bundle 1\n';

export interface BundleEnvelope {
  evpid: Evpid;
  data: Uint8Array;
}

/** Returns the bundle up to and including its `B <length>\n` line; the body bytes follow it. */
export function encodeBundleHead(envelopes: readonly BundleEnvelope[], bodyLength: number): Buffer {
  const parts: Buffer[] = [Buffer.from(BUNDLE_MAGIC)];

  for (const envelope of envelopes) {
    parts.push(Buffer.from(`E ${envelope.evpid} ${envelope.data.length}\n`));
    parts.push(Buffer.from(envelope.data.buffer, envelope.data.byteOffset, envelope.data.length));
    parts.push(Buffer.from('\n'));
  }

  parts.push(Buffer.from(`B ${bodyLength}\n`));
  return Buffer.concat(parts);
}

/** Returns a whole bundle in one buffer, for small bodies and tests. */
export function encodeBundle(envelopes: readonly BundleEnvelope[], body: Uint8Array): Buffer {
  return Buffer.concat([encodeBundleHead(envelopes, body.length), body]);
}

export interface BundleReaderOptions {
  /** The msgid of the request path: every evpid must belong to it. */
  msgid: Msgid;
  maxEnvelopeBytes?: number;
  maxBundleEnvelopes?: number;
  /** Maximum body bytes; a larger `B` length fails with body-too-large before any body byte. */
  maxBodyBytes?: number;
}

// A record line is at most `E `, 16 hex digits, a space, 15 digits and `\n` (35 bytes).
const MAX_LINE_BYTES = 64;
const LENGTH_PATTERN = /^(0|[1-9][0-9]{0,14})$/;
const NEWLINE = 0x0a;

/**
 * Streaming decoder of a bundle. Iterate `envelopes()` to the end first, then `body()`, which
 * passes the body on chunk by chunk and never holds it whole.
 *
 * Malformed input throws QueueError `invalid-bundle`, naming the byte offset and what was
 * expected there. An envelope or a body over its limit throws `envelope-too-large` or
 * `body-too-large`.
 */
export class BundleReader {
  /** Length of the body from the `B` line, known once `envelopes()` has ended. */
  bodyLength: number | undefined;

  private readonly options: Required<BundleReaderOptions>;
  private readonly source: AsyncIterator<Uint8Array>;
  private buffered: Buffer = Buffer.alloc(0);
  /** Offset in the bundle of the first byte of `buffered`. */
  private offset = 0;
  private sourceEnded = false;
  private state: 'head' | 'body' | 'done' = 'head';

  constructor(source: AsyncIterable<Uint8Array>, options: BundleReaderOptions) {
    this.source = source[Symbol.asyncIterator]();
    this.options = {
      maxEnvelopeBytes: DEFAULT_LIMITS.maxEnvelopeBytes,
      maxBundleEnvelopes: DEFAULT_LIMITS.maxBundleEnvelopes,
      maxBodyBytes: DEFAULT_LIMITS.maxMessageBytes,
      ...options,
    };
  }

  /** Reads the magic line and every `E` record, and stops after the `B` line. */
  async *envelopes(): AsyncGenerator<BundleEnvelope> {
    if (this.state !== 'head') throw new Error('BundleReader.envelopes() can run only once');

    try {
      await this.readMagic();

      const seen = new Set<Evpid>();
      for (;;) {
        const lineOffset = this.offset;
        const line = await this.readLine('an `E <evpid> <length>` or `B <length>` line');

        const body = /^B (\S+)$/.exec(line);
        if (body !== null) {
          this.bodyLength = this.parseBodyLength(body[1]!, lineOffset);
          this.state = 'body';
          return;
        }

        const envelope = /^E (\S+) (\S+)$/.exec(line);
        if (envelope === null) {
          throw invalidBundle(lineOffset, 'an `E <evpid> <length>` or `B <length>` line');
        }

        const evpid = this.parseEvpid(envelope[1]!, seen, lineOffset);
        const length = this.parseEnvelopeLength(envelope[2]!, evpid, lineOffset);
        const data = await this.readExact(length, `${length} bytes of envelope ${evpid}`);
        await this.readNewline(`a newline after envelope ${evpid}`);
        yield { evpid, data };
      }
    } catch (error) {
      this.state = 'done';
      await this.source.return?.();
      throw error;
    }
  }

  /**
   * Yields exactly `bodyLength` bytes, then checks that the bundle ends there. Callers that
   * verify a digest of the whole bundle can do it after this iteration has ended.
   */
  async *body(): AsyncGenerator<Uint8Array> {
    if (this.state !== 'body' || this.bodyLength === undefined) {
      throw new Error('BundleReader.body() needs envelopes() read to its end first');
    }
    this.state = 'done';

    let remaining = this.bodyLength;
    const bodyOffset = this.offset;
    try {
      while (remaining > 0) {
        if (this.buffered.length === 0 && !(await this.fill())) {
          const received = this.bodyLength - remaining;
          throw invalidBundle(
            this.offset,
            `${remaining} more body bytes (the B line announced ${this.bodyLength}, ` +
              `the bundle ended after ${received})`,
          );
        }

        const chunk = this.take(Math.min(remaining, this.buffered.length));
        remaining -= chunk.length;
        yield chunk;
      }

      await this.expectEnd(bodyOffset);
    } finally {
      if (!this.sourceEnded) await this.source.return?.();
    }
  }

  private async readMagic(): Promise<void> {
    const magic = Buffer.from(BUNDLE_MAGIC);
    while (this.buffered.length < magic.length && (await this.fill())) {
      // Keep reading: the magic line may come in several chunks.
    }

    const head = this.buffered.subarray(0, magic.length);
    if (!head.equals(magic)) {
      throw invalidBundle(0, `the line ${JSON.stringify(BUNDLE_MAGIC)}`);
    }
    this.take(magic.length);
  }

  /** Reads one line of at most MAX_LINE_BYTES and returns it without its newline. */
  private async readLine(expected: string): Promise<string> {
    for (;;) {
      const end = this.buffered.indexOf(NEWLINE);
      if (end !== -1 && end < MAX_LINE_BYTES) {
        const line = this.take(end + 1);
        return line.toString('latin1', 0, end);
      }
      if (end !== -1 || this.buffered.length >= MAX_LINE_BYTES) {
        throw invalidBundle(this.offset, `${expected} of at most ${MAX_LINE_BYTES} bytes`);
      }
      if (!(await this.fill())) {
        throw invalidBundle(this.offset + this.buffered.length, `${expected}, not the end`);
      }
    }
  }

  private async readExact(length: number, expected: string): Promise<Buffer> {
    while (this.buffered.length < length) {
      if (!(await this.fill())) {
        throw invalidBundle(this.offset + this.buffered.length, `${expected}, not the end`);
      }
    }
    return Buffer.from(this.take(length));
  }

  private async readNewline(expected: string): Promise<void> {
    const byte = await this.readExact(1, expected);
    if (byte[0] !== NEWLINE) throw invalidBundle(this.offset - 1, expected);
  }

  private async expectEnd(bodyOffset: number): Promise<void> {
    while (this.buffered.length === 0) {
      if (!(await this.fill())) return;
    }
    throw invalidBundle(
      this.offset,
      `the end of the bundle after ${this.bodyLength} body bytes from offset ${bodyOffset}`,
    );
  }

  private parseEvpid(text: string, seen: Set<Evpid>, lineOffset: number): Evpid {
    const evpidOffset = lineOffset + 2;
    if (!isEvpid(text)) {
      throw invalidBundle(evpidOffset, `an evpid of 16 lower-case hex digits, not "${text}"`);
    }
    if (evpidMsgid(text) !== this.options.msgid) {
      throw invalidBundle(evpidOffset, `an evpid of message ${this.options.msgid}, not ${text}`);
    }
    if (seen.has(text)) {
      throw invalidBundle(evpidOffset, `a new evpid, but ${text} appears twice`);
    }
    if (seen.size >= this.options.maxBundleEnvelopes) {
      throw invalidBundle(
        lineOffset,
        `the B line: a bundle holds at most ${this.options.maxBundleEnvelopes} envelopes`,
        { limit: this.options.maxBundleEnvelopes },
      );
    }
    seen.add(text);
    return text;
  }

  private parseEnvelopeLength(text: string, evpid: Evpid, lineOffset: number): number {
    const length = parseLength(text, lineOffset + 19);
    const limit = this.options.maxEnvelopeBytes;
    if (length > limit) {
      throw new QueueError(
        'envelope-too-large',
        `envelope ${evpid} of ${length} bytes exceeds the limit of ${limit} bytes; ` +
          'split the data or raise --max-envelope-bytes',
        { details: { limit, evpid, offset: lineOffset } },
      );
    }
    return length;
  }

  private parseBodyLength(text: string, lineOffset: number): number {
    const length = parseLength(text, lineOffset + 2);
    const limit = this.options.maxBodyBytes;
    if (length > limit) {
      throw new QueueError(
        'body-too-large',
        `body of ${length} bytes exceeds the limit of ${limit} bytes; ` +
          'send a smaller message or raise --max-message-bytes',
        { details: { limit, offset: lineOffset } },
      );
    }
    return length;
  }

  /** Reads one more chunk into `buffered`; returns false at the end of the source. */
  private async fill(): Promise<boolean> {
    if (this.sourceEnded) return false;

    const result = await this.source.next();
    if (result.done) {
      this.sourceEnded = true;
      return false;
    }

    const chunk = Buffer.from(result.value.buffer, result.value.byteOffset, result.value.length);
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    return true;
  }

  private take(length: number): Buffer {
    const taken = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(length);
    this.offset += length;
    return taken;
  }
}

/** Reads every envelope of a bundle into an array, leaving `reader.body()` to stream. */
export async function readBundleEnvelopes(reader: BundleReader): Promise<BundleEnvelope[]> {
  const envelopes: BundleEnvelope[] = [];
  for await (const envelope of reader.envelopes()) envelopes.push(envelope);
  return envelopes;
}

function parseLength(text: string, offset: number): number {
  if (!LENGTH_PATTERN.test(text)) {
    throw invalidBundle(offset, `a decimal byte count without leading zeros, not "${text}"`);
  }
  return Number(text);
}

function invalidBundle(
  offset: number,
  expected: string,
  details: Record<string, unknown> = {},
): QueueError {
  return new QueueError(
    'invalid-bundle',
    `invalid bundle at byte ${offset}: expected ${expected}`,
    {
      details: { offset, ...details },
    },
  );
}
