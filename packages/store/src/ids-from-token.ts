import { createHash, randomBytes } from 'node:crypto';
import { type Evpid, type Msgid, randomEvpid, randomMsgid } from '@smtpq/protocol';

/**
 * Candidate ids for a create with a server-chosen id. With a request token the candidates are
 * derived from it, so a retried create finds the id its first attempt took and can replay the
 * answer; without one they are random.
 */
export function* msgidCandidates(token: string | undefined, count: number): Generator<Msgid> {
  for (let attempt = 0; attempt < count; attempt++) {
    yield token === undefined ? randomMsgid() : derivedHex32(`msg:${token}:${attempt}`);
  }
}

export function* evpidCandidates(
  msgid: Msgid,
  token: string | undefined,
  count: number,
): Generator<Evpid> {
  for (let attempt = 0; attempt < count; attempt++) {
    yield token === undefined
      ? randomEvpid(msgid)
      : msgid + derivedHex32(`env:${msgid}:${token}:${attempt}`);
  }
}

function derivedHex32(seed: string): string {
  for (let salt = 0; ; salt++) {
    const hex = createHash('sha256').update(`${seed}:${salt}`).digest('hex').slice(0, 8);
    if (hex !== '00000000') return hex;
  }
}

/** Returns the generation of a new message (see MessageRecord): 64 random bits. */
export function newGeneration(): string {
  return randomBytes(8).toString('hex');
}
