import { randomBytes } from 'node:crypto';

/** A message id on the wire: 8 lower-case hex digits, never all zero. */
export type Msgid = string;

/** An envelope id on the wire: 16 lower-case hex digits whose first 8 are its msgid. */
export type Evpid = string;

const MSGID_PATTERN = /^[0-9a-f]{8}$/;
const EVPID_PATTERN = /^[0-9a-f]{16}$/;
const ZERO_MSGID = '00000000';

/** Returns whether `value` is a msgid in its only accepted form. */
export function isMsgid(value: string): boolean {
  return MSGID_PATTERN.test(value) && value !== ZERO_MSGID;
}

/**
 * Returns whether `value` is an evpid in its only accepted form. smtpd never uses a zero
 * msgid or a zero low half, so neither is accepted.
 */
export function isEvpid(value: string): boolean {
  return EVPID_PATTERN.test(value) && isMsgid(value.slice(0, 8)) && value.slice(8) !== ZERO_MSGID;
}

/** Returns the msgid part (the high 32 bits) of an evpid. */
export function evpidMsgid(evpid: Evpid): Msgid {
  return evpid.slice(0, 8);
}

function randomNonZeroHex32(): string {
  for (;;) {
    const hex = randomBytes(4).toString('hex');
    if (hex !== ZERO_MSGID) return hex;
  }
}

/** Returns a random msgid, as smtpd's own backends choose them. */
export function randomMsgid(): Msgid {
  return randomNonZeroHex32();
}

/** Returns a random evpid of `msgid`. */
export function randomEvpid(msgid: Msgid): Evpid {
  return msgid + randomNonZeroHex32();
}

/** Converts a u32 msgid as smtpd sends it to its wire form. */
export function msgidFromNumber(value: number): Msgid {
  return (value >>> 0).toString(16).padStart(8, '0');
}

/** Converts a u64 evpid as smtpd sends it to its wire form. */
export function evpidFromBigInt(value: bigint): Evpid {
  return BigInt.asUintN(64, value).toString(16).padStart(16, '0');
}

export function msgidToNumber(msgid: Msgid): number {
  return Number.parseInt(msgid, 16);
}

export function evpidToBigInt(evpid: Evpid): bigint {
  return BigInt(`0x${evpid}`);
}
