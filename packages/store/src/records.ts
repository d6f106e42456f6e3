import { type MessageInfo, type MessageState, type Msgid, QueueError } from '@smtpq/protocol';

/** The stored form of a message. */
export interface MessageRecord {
  state: MessageState;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Request token of the create, for replaying a retried create. */
  token: string | null;
  /**
   * Generation of this message: its envelopes carry the same value, and the walk shows only
   * those. Envelopes left by another message of the same msgid (a bundle that lost a race for
   * the msgid, or a delete cut short by a crash) carry another value and stay invisible.
   * Null in records written before generations existed.
   */
  generation: string | null;
  body: { key: string; size: number; sha256: string } | null;
  /** Pool node that owns the message; null without node context and in older records. */
  owner: string | null;
}

/** The stored form of an envelope: the bytes and the tokens of the writes that made them. */
export interface EnvelopeStored {
  data: Buffer;
  createToken: string | null;
  writeToken: string | null;
  /** Creation time, ms since the epoch; null in records written before it was kept. */
  createdAt: number | null;
  /** Generation of the message the envelope was created for (see MessageRecord). */
  generation: string | null;
}

/** Returns whether an envelope belongs to the message generation `generation`. */
export function isOfGeneration(envelope: EnvelopeStored, generation: string | null): boolean {
  return envelope.generation === generation;
}

export function encodeMessage(record: MessageRecord): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...record }));
}

export function decodeMessage(data: Buffer, key: string): MessageRecord {
  try {
    const value = JSON.parse(data.toString('utf8')) as Partial<MessageRecord> & { v?: number };
    if (value.v !== 1 || (value.state !== 'open' && value.state !== 'committed')) {
      throw new Error(`unknown record version or state`);
    }
    return {
      state: value.state,
      createdAt: Number(value.createdAt),
      token: value.token ?? null,
      generation: value.generation ?? null,
      body: value.body ?? null,
      owner: value.owner ?? null,
    };
  } catch (error) {
    throw new QueueError('internal', `stored message record ${key} is unreadable`, {
      cause: error,
    });
  }
}

export function messageInfoOf(msgid: Msgid, record: MessageRecord): MessageInfo {
  return {
    msgid,
    state: record.state,
    createdAt: new Date(record.createdAt).toISOString(),
    bodySize: record.body?.size ?? null,
    bodySha256: record.body?.sha256 ?? null,
    owner: record.owner,
  };
}

/**
 * Envelope records are `SQE1`, a u16 big-endian header length, a JSON header (tokens `c` and
 * `w`, creation time `t`, generation `g`), then the envelope bytes as they came, so that no
 * encoding touches them.
 */
const ENVELOPE_MAGIC = Buffer.from('SQE1');

export function encodeEnvelope(envelope: EnvelopeStored): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      c: envelope.createToken,
      w: envelope.writeToken,
      t: envelope.createdAt,
      g: envelope.generation,
    }),
    'utf8',
  );
  const length = Buffer.alloc(2);
  length.writeUInt16BE(header.length);
  return Buffer.concat([ENVELOPE_MAGIC, length, header, envelope.data]);
}

export function decodeEnvelope(data: Buffer, key: string): EnvelopeStored {
  if (data.length < 6 || !data.subarray(0, 4).equals(ENVELOPE_MAGIC)) {
    throw new QueueError('internal', `stored envelope record ${key} is unreadable`);
  }
  const headerLength = data.readUInt16BE(4);
  try {
    const header = JSON.parse(data.subarray(6, 6 + headerLength).toString('utf8')) as {
      c?: string | null;
      w?: string | null;
      t?: number | null;
      g?: string | null;
    };
    return {
      data: data.subarray(6 + headerLength),
      createToken: header.c ?? null,
      writeToken: header.w ?? null,
      createdAt: typeof header.t === 'number' ? header.t : null,
      generation: header.g ?? null,
    };
  } catch (error) {
    throw new QueueError('internal', `stored envelope record ${key} is unreadable`, {
      cause: error,
    });
  }
}
