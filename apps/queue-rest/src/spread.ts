import type { Msgid } from '@smtpq/protocol';

/**
 * Spread of a dead node's messages over the live nodes of a pool, so that they do not claim the
 * same ones. Each node first claims only the msgids of its own slot. After SPREAD_ROUNDS rounds
 * any node claims what is left, because a node that died in between leaves its slot unclaimed.
 */

/** Rounds after an owner became claimable during which each node keeps to its own slot. */
export const SPREAD_ROUNDS = 2;

/** This node's place among the live nodes: `index` of `count`, by node name. */
export interface SpreadSlot {
  index: number;
  count: number;
}

/** Returns the slot of `self` among the live nodes sorted by name (`self` counts as live). */
export function spreadSlot(self: string, liveNodes: readonly string[]): SpreadSlot {
  const names = [...new Set([...liveNodes, self])].sort();
  return { index: names.indexOf(self), count: names.length };
}

/** Returns whether a msgid falls in a slot: its value modulo the count is the index. */
export function inSlot(msgid: Msgid, slot: SpreadSlot): boolean {
  return Number.parseInt(msgid, 16) % slot.count === slot.index;
}

/**
 * Picks up to `limit` msgids to claim, in order: all of them when `openToAll`, else only
 * those of this node's slot.
 */
export function selectClaims(
  msgids: readonly Msgid[],
  options: { slot: SpreadSlot; openToAll: boolean; limit: number },
): Msgid[] {
  const selected: Msgid[] = [];
  for (const msgid of msgids) {
    if (selected.length >= options.limit) break;
    if (options.openToAll || inSlot(msgid, options.slot)) selected.push(msgid);
  }
  return selected;
}

/**
 * The round at which each owner was first seen claimable, so that a message still unclaimed
 * SPREAD_ROUNDS rounds later is open to every node. The key of unowned messages is null.
 */
export class ClaimableSince {
  private readonly since = new Map<string | null, number>();

  /** Records the owners claimable at `round`; an owner no longer claimable is forgotten. */
  update(round: number, claimable: ReadonlyArray<string | null>): void {
    const current = new Set(claimable);
    for (const owner of [...this.since.keys()]) {
      if (!current.has(owner)) this.since.delete(owner);
    }
    for (const owner of current) {
      if (!this.since.has(owner)) this.since.set(owner, round);
    }
  }

  /** Returns whether any node may claim the messages of `owner` at `round`. */
  openToAll(owner: string | null, round: number): boolean {
    const first = this.since.get(owner);
    return first !== undefined && round - first >= SPREAD_ROUNDS;
  }
}
