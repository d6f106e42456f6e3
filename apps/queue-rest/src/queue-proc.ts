import { type Evpid, evpidFromBigInt, type Msgid, msgidFromNumber } from '@smtpq/protocol';
import { type ImsgFrame, ImsgFrameError } from './imsg.js';

/**
 * smtpd's proc queue protocol, API version 2 (PROC_QUEUE_API_VERSION and the PROC_QUEUE_*
 * enum in usr.sbin/smtpd/smtpd-api.h, unchanged from OpenSMTPD 6.x to 7.8). OpenSMTPD-extras
 * has a longer enum with other numbers; smtpd itself uses this one.
 */
export const PROC_QUEUE_API_VERSION = 2;

export const PROC_QUEUE = {
  OK: 0,
  FAIL: 1,
  INIT: 2,
  CLOSE: 3,
  MESSAGE_CREATE: 4,
  MESSAGE_DELETE: 5,
  MESSAGE_COMMIT: 6,
  MESSAGE_FD_R: 7,
  ENVELOPE_CREATE: 8,
  ENVELOPE_DELETE: 9,
  ENVELOPE_LOAD: 10,
  ENVELOPE_UPDATE: 11,
  ENVELOPE_WALK: 12,
} as const;

export type RequestName = Exclude<keyof typeof PROC_QUEUE, 'OK' | 'FAIL'>;

export const REQUEST_NAMES: readonly RequestName[] = [
  'INIT',
  'CLOSE',
  'MESSAGE_CREATE',
  'MESSAGE_DELETE',
  'MESSAGE_COMMIT',
  'MESSAGE_FD_R',
  'ENVELOPE_CREATE',
  'ENVELOPE_DELETE',
  'ENVELOPE_LOAD',
  'ENVELOPE_UPDATE',
  'ENVELOPE_WALK',
];

/**
 * smtpd's envelope buffer: `char evpbuf[sizeof(struct envelope)]` in queue_backend.c, which
 * is 7568 bytes in Debian's 6.8.0p2 build. An ENVELOPE_LOAD or ENVELOPE_WALK reply longer
 * than that makes smtpd exit ("queue-proc: buf too small"), so none is ever sent.
 */
export const ENVELOPE_BUFFER_BYTES = 7568;

export type QueueRequest =
  | { name: 'INIT'; version: number }
  | { name: 'CLOSE' }
  | { name: 'MESSAGE_CREATE' }
  | { name: 'MESSAGE_DELETE'; msgid: Msgid }
  | { name: 'MESSAGE_COMMIT'; msgid: Msgid; fd: number }
  | { name: 'MESSAGE_FD_R'; msgid: Msgid }
  | { name: 'ENVELOPE_CREATE'; msgid: Msgid; data: Buffer }
  | { name: 'ENVELOPE_DELETE'; evpid: Evpid }
  | { name: 'ENVELOPE_LOAD'; evpid: Evpid }
  | { name: 'ENVELOPE_UPDATE'; evpid: Evpid; data: Buffer }
  | { name: 'ENVELOPE_WALK' };

/** A reply: its payload, and the fd to pass with it (MESSAGE_FD_R only). */
export interface QueueReply {
  data: Buffer;
  fd?: number;
}

const NAME_OF_TYPE = new Map<number, RequestName>(
  REQUEST_NAMES.map((name) => [PROC_QUEUE[name], name]),
);

function expectLength(name: RequestName, data: Buffer, length: number, atLeast = false): void {
  const ok = atLeast ? data.length >= length : data.length === length;
  if (!ok) {
    const expected = atLeast ? `at least ${length}` : `${length}`;
    throw new ImsgFrameError(
      `${name} request has a payload of ${data.length} bytes, expected ${expected}`,
    );
  }
}

function readMsgid(data: Buffer): Msgid {
  return msgidFromNumber(data.readUInt32LE(0));
}

function readEvpid(data: Buffer): Evpid {
  return evpidFromBigInt(data.readBigUInt64LE(0));
}

/**
 * Decodes a request frame, checking its type, payload length and fd as queue_proc.c sends
 * them. An fd arrives only with MESSAGE_COMMIT, and MESSAGE_COMMIT always has one (smtpd
 * returns 0 itself when it cannot open the file). The caller closes `frame.fd` when this
 * throws.
 */
export function decodeRequest(frame: ImsgFrame): QueueRequest {
  const name = NAME_OF_TYPE.get(frame.type);
  if (name === undefined) {
    throw new ImsgFrameError(`unknown request type ${frame.type}`);
  }
  if (frame.fd !== undefined && name !== 'MESSAGE_COMMIT') {
    throw new ImsgFrameError(`${name} request carries an unexpected fd`);
  }

  const data = frame.data;
  switch (name) {
    case 'INIT':
      expectLength(name, data, 4);
      return { name, version: data.readUInt32LE(0) };
    case 'CLOSE':
    case 'MESSAGE_CREATE':
    case 'ENVELOPE_WALK':
      expectLength(name, data, 0);
      return { name };
    case 'MESSAGE_DELETE':
    case 'MESSAGE_FD_R':
      expectLength(name, data, 4);
      return { name, msgid: readMsgid(data) };
    case 'MESSAGE_COMMIT':
      expectLength(name, data, 4);
      if (frame.fd === undefined) {
        throw new ImsgFrameError('MESSAGE_COMMIT request carries no fd of the message file');
      }
      return { name, msgid: readMsgid(data), fd: frame.fd };
    case 'ENVELOPE_CREATE':
      expectLength(name, data, 4, true);
      return { name, msgid: readMsgid(data), data: data.subarray(4) };
    case 'ENVELOPE_DELETE':
    case 'ENVELOPE_LOAD':
      expectLength(name, data, 8);
      return { name, evpid: readEvpid(data) };
    case 'ENVELOPE_UPDATE':
      expectLength(name, data, 8, true);
      return { name, evpid: readEvpid(data), data: data.subarray(8) };
  }
}

function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32LE(value, 0);
  return bytes;
}

/** `int r`: 1 for success, 0 for failure. */
export function replyResult(ok: boolean): QueueReply {
  return { data: int32(ok ? 1 : 0) };
}

export function replyEmpty(): QueueReply {
  return { data: Buffer.alloc(0) };
}

/** MESSAGE_CREATE: `int r`, then `u32 msgid` when r = 1. */
export function replyMessageCreated(msgid: Msgid | null): QueueReply {
  if (msgid === null) return replyResult(false);

  const data = Buffer.alloc(8);
  data.writeInt32LE(1, 0);
  data.writeUInt32LE(Number.parseInt(msgid, 16), 4);
  return { data };
}

/** ENVELOPE_CREATE: `int r`, then `u64 evpid` when r = 1. */
export function replyEnvelopeCreated(evpid: Evpid | null): QueueReply {
  if (evpid === null) return replyResult(false);

  const data = Buffer.alloc(12);
  data.writeInt32LE(1, 0);
  data.writeBigUInt64LE(BigInt(`0x${evpid}`), 4);
  return { data };
}

/** MESSAGE_FD_R: an empty payload, with the message fd, or without any fd on failure. */
export function replyMessageFd(fd: number | null): QueueReply {
  return fd === null ? replyEmpty() : { data: Buffer.alloc(0), fd };
}

/** ENVELOPE_LOAD: the envelope bytes; empty means not found or failure. */
export function replyEnvelopeLoaded(data: Buffer | null): QueueReply {
  return { data: data ?? Buffer.alloc(0) };
}

/**
 * ENVELOPE_WALK: `int r`; r > 0 is followed by `u64 evpid` and r bytes of envelope, r = 0
 * means "nothing this time, ask again", r = -1 ends the walk.
 */
export function replyWalk(step: { evpid: Evpid; data: Buffer } | 'again' | 'end'): QueueReply {
  if (step === 'again') return { data: int32(0) };
  if (step === 'end') return { data: int32(-1) };

  const data = Buffer.alloc(12 + step.data.length);
  data.writeInt32LE(step.data.length, 0);
  data.writeBigUInt64LE(BigInt(`0x${step.evpid}`), 4);
  step.data.copy(data, 12);
  return { data };
}
