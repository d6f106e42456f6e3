import {
  type Evpid,
  evpidMsgid,
  type MessageClaimed,
  type Msgid,
  type QueueClient,
} from '@smtpq/protocol';
import { describeError, hasCode } from './errors.js';
import type { Logger } from './log.js';
import type { SeenEvpids } from './seen-evpids.js';
import type { DiscoverOutcome } from './smtpctl.js';
import { SmtpctlMissingError } from './smtpctl.js';
import { ClaimableSince, type SpreadSlot, selectClaims, spreadSlot } from './spread.js';

/** Messages requested per page when a round lists the messages of a claimable owner. */
const LIST_PAGE_MESSAGES = 1000;

/**
 * Pages of one owner's message list read per round at most. Msgids are random, so a page
 * contains about 1000 / (live nodes) msgids of this node's slot, far more than one round claims.
 */
const LIST_PAGES_PER_OWNER = 10;

/**
 * Rounds between two looks for messages of no owner. Only a queue-rest outside pool mode
 * creates them, so they are rare, and each look reads up to LIST_PAGES_PER_OWNER pages.
 */
const UNOWNED_EVERY_ROUNDS = 30;

/** `smtpctl discover` runs per envelope before it is left for the next smtpd start. */
const DISCOVER_ATTEMPTS = 3;

export interface TakeoverOptions {
  /** Client that acts for this node (node headers), with no retries: each round is one try. */
  client: QueueClient;
  lease: { readonly node: string; readonly lease: object | null; check(): void };
  seen: SeenEvpids;
  walk: { readonly ended: boolean };
  /** Resolves when no reply to smtpd is pending. */
  whenIdle: () => Promise<void>;
  discover: (evpid: Evpid) => Promise<DiscoverOutcome>;
  logger: Logger;
  intervalMs: number;
  claimBatch: number;
  /** Messages requested per page of an owner's message list; 1000 unless given. */
  listPageMessages?: number;
}

/** A round stops early: the lease was lost or the frontend failed. */
class RoundAborted extends Error {}

/**
 * The pool takeover, which runs in the background every `intervalMs`. It lists the nodes and
 * claims up to `claimBatch` committed messages of the claimable ones (dead or released) and of
 * no owner, spread over the live nodes by msgid. Then it hands their envelopes to smtpd with
 * `smtpctl discover EVPID`, one at a time.
 *
 * smtpd's scheduler ignores the discover of an envelope while it holds another envelope of the
 * same message (`scheduler_ram_query` checks the msgid), so the next envelope of a message is
 * discovered only after smtpd deleted the one before. smtpd also exits on an envelope it holds
 * already (`tree_xset`), so an evpid that this process handed to smtpd is never discovered.
 *
 * smtpctl makes smtpd send ENVELOPE_LOAD to this process, so a discover starts only while no
 * reply to smtpd is pending, and never from inside a reply. Rounds start after the start-up
 * walk, which hands smtpd every envelope that this node owned at start.
 */
export class Takeover {
  private round = 0;
  private readonly since = new ClaimableSince();
  /**
   * Cursor of each claimable owner's message list (null: no owner), where the next round goes
   * on. The frontend filters each page of message keys by owner after reading it, so a page may
   * contain none of the owner's messages. Rounds that started from the first page would never
   * reach the messages past the first LIST_PAGES_PER_OWNER pages.
   */
  private readonly cursors = new Map<string | null, string>();
  /** Evpids of claimed messages that smtpd has not been given yet, by msgid, in claim order. */
  private readonly waiting = new Map<Msgid, Evpid[]>();
  private readonly attempts = new Map<Evpid, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private discovering: Promise<void> | undefined;
  private stopped = false;
  /** Rounds that failed in a row, to thin out the log in a long outage. */
  private failures = 0;

  constructor(private readonly options: TakeoverOptions) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Envelopes claimed and not given to smtpd yet. */
  get waitingEnvelopes(): number {
    let count = 0;
    for (const evpids of this.waiting.values()) count += evpids.length;
    return count;
  }

  /** Discovers the next envelope of a message once smtpd has deleted `evpid`. */
  envelopeDeleted(evpid: Evpid): void {
    if (this.waiting.has(evpidMsgid(evpid))) void this.discoverWaiting();
  }

  private runRound(): Promise<void> {
    this.running ??= this.claimAndDiscover().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;

    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runRound().finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async claimAndDiscover(): Promise<void> {
    const { lease, walk, logger } = this.options;
    if (this.stopped || !walk.ended || lease.lease === null) return;
    this.round += 1;

    try {
      const claimed = await this.claimRound();
      if (this.failures > 0) logger.info({ failures: this.failures }, 'takeover round succeeded');
      this.failures = 0;
      if (claimed > 0) {
        logger.info(
          { claimed, waitingEnvelopes: this.waitingEnvelopes },
          'takeover claimed messages of claimable nodes',
        );
      }
    } catch (error) {
      this.failures += 1;
      if (this.failures <= 3 || this.failures % 30 === 0) {
        logger.warn(
          { failures: this.failures, ...describeError(error) },
          'takeover round failed; trying again at the next round',
        );
      }
    }
    await this.discoverWaiting();
  }

  /** Claims up to claimBatch messages; returns how many it claimed. */
  private async claimRound(): Promise<number> {
    const { client, lease, claimBatch } = this.options;
    const self = lease.node;

    const { nodes } = await client.nodeList();
    const live = nodes.filter((node) => node.state === 'live').map((node) => node.node);
    const slot = spreadSlot(self, live);
    const owners: Array<string | null> = nodes
      .filter((node) => node.claimable && node.node !== self)
      .map((node) => node.node);
    owners.push(null);
    this.since.update(this.round, owners);
    for (const owner of this.cursors.keys()) {
      if (!owners.includes(owner)) this.cursors.delete(owner);
    }

    let claimed = 0;
    for (const owner of owners) {
      if (claimed >= claimBatch) break;
      if (owner === null && this.round % UNOWNED_EVERY_ROUNDS !== 1) continue;
      claimed += await this.claimFrom(owner, slot, claimBatch - claimed);
    }
    return claimed;
  }

  /** Claims up to `limit` committed messages of `owner` (null: unowned); returns the count. */
  private async claimFrom(owner: string | null, slot: SpreadSlot, limit: number) {
    const { client } = this.options;
    const openToAll = this.since.openToAll(owner, this.round);
    let claimed = 0;
    let cursor = this.cursors.get(owner);

    for (let page = 0; page < LIST_PAGES_PER_OWNER && claimed < limit; page++) {
      const listed = await client.messageList({
        owner,
        state: 'committed',
        cursor,
        limit: this.options.listPageMessages ?? LIST_PAGE_MESSAGES,
      });
      const msgids = listed.messages.map((message) => message.msgid);

      for (const msgid of selectClaims(msgids, { slot, openToAll, limit: limit - claimed })) {
        const result = await this.claim(msgid, owner);
        if (result === 'owner-live') return claimed;
        if (result === 'claimed') claimed += 1;
      }
      // At the end of the list, the next round starts again from the first page.
      if (listed.end || listed.next === null) {
        this.cursors.delete(owner);
        return claimed;
      }
      cursor = listed.next;
      // The claims of a full batch may have left out messages of this page: read it again.
      if (claimed < limit) this.cursors.set(owner, cursor);
    }
    return claimed;
  }

  private async claim(msgid: Msgid, owner: string | null) {
    const { client, lease, logger } = this.options;

    let claimed: MessageClaimed;
    try {
      claimed = await client.messageClaim(msgid, { from: owner });
    } catch (error) {
      // Another node was faster, or the message is gone or not committed: nothing to do.
      if (hasCode(error, 'claim-lost') || hasCode(error, 'message-not-found')) return 'skipped';
      if (hasCode(error, 'message-open')) return 'skipped';
      // The owner renewed its lease, or its grace has not passed: none of its messages now.
      if (hasCode(error, 'lease-live')) return 'owner-live';
      if (hasCode(error, 'lease-lost')) lease.check();
      throw new RoundAborted(`claim of message ${msgid} failed: ${describeError(error).error}`, {
        cause: error,
      });
    }

    const evpids = claimed.evpids.filter((evpid) => !this.options.seen.has(evpid));
    logger.info(
      { msgid, from: owner, envelopes: claimed.evpids.length, toDiscover: evpids.length },
      'message claimed from a claimable node',
    );
    if (evpids.length > 0) this.waiting.set(msgid, [...(this.waiting.get(msgid) ?? []), ...evpids]);
    return 'claimed';
  }

  /** Runs `smtpctl discover` for the waiting envelopes, one at a time; never two runs at once. */
  private discoverWaiting(): Promise<void> {
    this.discovering ??= this.discoverEach().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async discoverEach(): Promise<void> {
    // Messages whose discover failed in this run wait for the next one.
    const failedNow = new Set<Msgid>();

    for (;;) {
      if (this.stopped) return;
      const next = this.nextWaiting(failedNow);
      if (next === undefined) return;

      const { msgid, evpid } = next;
      await this.options.whenIdle();
      if (this.stopped) return;
      // A walk or a load may have handed it to smtpd meanwhile.
      if (this.options.seen.has(evpid)) {
        this.dropWaiting(msgid, evpid);
        continue;
      }

      const result = await this.discoverOne(msgid, evpid);
      if (result === 'stop') return;
      if (result === 'failed') failedNow.add(msgid);
    }
  }

  /** Returns the next envelope to discover, of a message with no envelope in smtpd now. */
  private nextWaiting(skip: Set<Msgid>): { msgid: Msgid; evpid: Evpid } | undefined {
    for (const [msgid, evpids] of this.waiting) {
      if (skip.has(msgid) || this.options.seen.holdsMessage(msgid)) continue;
      const evpid = evpids[0];
      if (evpid === undefined) {
        this.waiting.delete(msgid);
        continue;
      }
      return { msgid, evpid };
    }
    return undefined;
  }

  private async discoverOne(msgid: Msgid, evpid: Evpid): Promise<'done' | 'failed' | 'stop'> {
    const { discover, logger, seen } = this.options;

    let outcome: DiscoverOutcome;
    try {
      outcome = await discover(evpid);
    } catch (error) {
      if (error instanceof SmtpctlMissingError) {
        logger.error(
          { evpid, smtpctl: error.program, code: error.code },
          'takeover cannot run smtpctl; set smtpctl in the configuration to its absolute path',
        );
        return 'stop';
      }
      logger.error({ msgid, evpid, ...describeError(error) }, 'smtpctl discover failed to run');
      return 'stop';
    }

    if (outcome.ok) {
      seen.add(evpid);
      this.dropWaiting(msgid, evpid);
      logger.info({ msgid, evpid, smtpctl: outcome.text }, 'envelope taken over by smtpd');
      return 'done';
    }

    const attempts = (this.attempts.get(evpid) ?? 0) + 1;
    if (attempts < DISCOVER_ATTEMPTS) {
      this.attempts.set(evpid, attempts);
      logger.warn(
        { msgid, evpid, attempts, reason: outcome.text },
        'smtpctl discover failed; trying again at the next takeover round',
      );
      return 'failed';
    }
    this.dropWaiting(msgid, evpid);
    logger.error(
      { msgid, evpid, attempts, reason: outcome.text },
      'smtpctl discover failed; the envelope is left for the next smtpd start, whose walk ' +
        'hands smtpd the envelopes of the messages this node owns',
    );
    return 'failed';
  }

  private dropWaiting(msgid: Msgid, evpid: Evpid): void {
    this.attempts.delete(evpid);
    const evpids = this.waiting.get(msgid)?.filter((other) => other !== evpid) ?? [];
    if (evpids.length === 0) this.waiting.delete(msgid);
    else this.waiting.set(msgid, evpids);
  }
}
