import type { Evpid } from '@smtpq/protocol';

/**
 * The evpids that smtpd already has from this process: created, loaded or walked. smtpd exits
 * on a duplicate in its envelope cache and scheduler (`tree_xset`), so the start-up walk must
 * never hand it one of them. Once the walk is over the set is of no use and is dropped.
 */
export class SeenEvpids {
  private evpids: Set<Evpid> | null = new Set();

  add(evpid: Evpid): void {
    this.evpids?.add(evpid);
  }

  has(evpid: Evpid): boolean {
    return this.evpids?.has(evpid) ?? false;
  }

  /** Drops the set when the walk has ended; later calls to add do nothing. */
  retire(): void {
    this.evpids = null;
  }

  get size(): number {
    return this.evpids?.size ?? 0;
  }
}
