import { randomBytes } from 'node:crypto';
import { isMsgid, randomMsgid, type ServiceInfo } from '@smtpq/protocol';
import { fail } from '../failure.js';

const VARIABLE = /\$([a-z][a-z0-9]*)(?::([a-z0-9]+))?/g;

/** Variables that hold pool node names. */
const NODE_VARIABLES = ['n1', 'n2', 'n3'];

/**
 * The variables of one case run. Every run gets new random msgids, so that cases can run
 * against a store that contains other mail, and the msgids it used are deleted afterwards:
 * - `$m`, `$m2`, `$m3`: msgids for the case; `$m4`: a msgid the case never creates;
 * - `$e1`..`$e9`, `$f1`..`$f9`, `$g1`..`$g9`, `$h1`..`$h9`: evpids of `$m`, `$m2`, `$m3`,
 *   `$m4`, whose low halves are 1 to 9, so that they sort in that order; `$e0` is the invalid
 *   evpid of `$m` with a zero low half;
 * - `$k1`..`$k3`: random Idempotency-Key values;
 * - `$n1`..`$n3`: random pool node names (`conformance-` and hex digits), whose leases are
 *   released when the case ends;
 * - `$maxpage`: `limits.maxWalkPageEnvelopes` of `GET /v1`;
 * - values saved by earlier steps.
 * `$name:upper`, `:tampered`, `:cut`, `:unquoted` and `:plus1` change a value.
 */
export class CaseVars {
  private readonly values = new Map<string, string>();
  /** Msgids the case may have created, deleted when it ends. */
  readonly created = new Set<string>();
  /** Pool node names the case used, whose leases are released when it ends. */
  readonly nodes = new Set<string>();

  constructor(info: ServiceInfo) {
    const letters = ['m', 'm2', 'm3', 'm4'];
    const evpidLetters = ['e', 'f', 'g', 'h'];
    const used = new Set<string>();
    for (const [i, name] of letters.entries()) {
      let msgid = randomMsgid();
      // A letter in every msgid makes `$m:upper` differ from `$m`.
      while (used.has(msgid) || !/[a-f]/.test(msgid)) msgid = randomMsgid();
      used.add(msgid);
      this.values.set(name, msgid);
      if (name !== 'm4') this.created.add(msgid);
      for (let n = 0; n <= 9; n++) this.values.set(`${evpidLetters[i]}${n}`, `${msgid}0000000${n}`);
    }
    this.values.set('maxpage', String(info.limits.maxWalkPageEnvelopes));
    for (let n = 1; n <= 3; n++)
      this.values.set(`k${n}`, `conformance-${randomBytes(8).toString('hex')}`);
    for (const name of NODE_VARIABLES) {
      this.values.set(name, `conformance-${randomBytes(6).toString('hex')}`);
    }
  }

  get(name: string): string {
    const value = this.values.get(name) ?? fail(`the case uses $${name} before it is set`);
    if (NODE_VARIABLES.includes(name)) this.nodes.add(value);
    return value;
  }

  /** Stores a value; a msgid is also remembered for clean-up. */
  set(name: string, value: string): void {
    this.values.set(name, value);
    if (isMsgid(value)) this.created.add(value);
  }

  /** Returns a new random msgid that is deleted when the case ends. */
  newMsgid(): string {
    const msgid = randomMsgid();
    this.created.add(msgid);
    return msgid;
  }

  /** Replaces every `$name` in `text`. */
  fill(text: string): string {
    return text.replace(VARIABLE, (_match, name: string, change: string | undefined) =>
      transform(this.get(name), change),
    );
  }
}

function transform(value: string, change: string | undefined): string {
  switch (change) {
    case undefined:
      return value;
    case 'upper':
      return value.toUpperCase();
    case 'unquoted':
      return value.replace(/^"|"$/g, '');
    case 'plus1':
      return String(Number(value) + 1);
    case 'cut':
      return value.slice(0, Math.max(1, value.length - 4));
    case 'tampered': {
      // Changes one character in the middle of the cursor, keeping it in the base64url alphabet.
      const at = Math.floor(value.length / 3);
      const replacement = value[at] === 'A' ? 'B' : 'A';
      return `${value.slice(0, at)}${replacement}${value.slice(at + 1)}`;
    }
    default:
      return fail(`unknown variable change :${change}`);
  }
}

/** Returns a token that no frontend was given. */
export function wrongToken(): string {
  return `wrong-${randomBytes(12).toString('hex')}`;
}
