import { type Evpid, evpidMsgid, type Msgid } from '@smtpq/protocol';

/**
 * The evpids that smtpd may hold from this process: created, loaded, walked or discovered.
 * smtpd exits on a duplicate in its envelope cache and scheduler (`tree_xset`), so neither the
 * start-up walk nor a pool takeover may hand it one of them.
 *
 * In single-node mode only the walk needs the set, and it is dropped when the walk ends. In
 * pool mode (`permanent`) the takeover discovers envelopes at any time, so the set lives as long
 * as the process, and an evpid leaves it when smtpd has deleted its envelope.
 */
export class SeenEvpids {
  private byMessage: Map<Msgid, Set<Evpid>> | null = new Map();
  private count = 0;
  private walking = true;
  /** Removals held back until the walk ends, because a fetched walk page may still list them. */
  private removedDuringWalk: Evpid[] = [];

  constructor(private readonly permanent = false) {}

  add(evpid: Evpid): void {
    const byMessage = this.byMessage;
    if (byMessage === null) return;

    const msgid = evpidMsgid(evpid);
    let evpids = byMessage.get(msgid);
    if (evpids === undefined) {
      evpids = new Set();
      byMessage.set(msgid, evpids);
    }
    if (evpids.has(evpid)) return;
    evpids.add(evpid);
    this.count += 1;
  }

  has(evpid: Evpid): boolean {
    return this.byMessage?.get(evpidMsgid(evpid))?.has(evpid) ?? false;
  }

  /** Returns whether smtpd may hold any envelope of `msgid`. */
  holdsMessage(msgid: Msgid): boolean {
    return (this.byMessage?.get(msgid)?.size ?? 0) > 0;
  }

  /**
   * Forgets an evpid that smtpd has deleted (pool mode only). While the walk runs, the removal
   * waits for its end: a walk page fetched before the delete may still list the envelope, and
   * smtpd would then get it a second time.
   */
  remove(evpid: Evpid): void {
    if (!this.permanent) return;
    if (this.walking) {
      this.removedDuringWalk.push(evpid);
      return;
    }
    this.forget(evpid);
  }

  /**
   * Forgets every evpid of a message that never reached the store (rolled back, failed commit,
   * dropped as too old), so that rolled-back transactions do not grow the set (pool mode only).
   */
  removeMessage(msgid: Msgid): void {
    if (!this.permanent) return;

    const evpids = this.byMessage?.get(msgid);
    if (evpids === undefined) return;
    this.count -= evpids.size;
    this.byMessage?.delete(msgid);
  }

  /**
   * Ends the walk. In single-node mode nothing can be walked twice any more, so the set is
   * dropped and later calls to add do nothing. In pool mode the held-back removals apply.
   */
  retire(): void {
    this.walking = false;
    if (!this.permanent) {
      this.byMessage = null;
      this.count = 0;
      return;
    }
    for (const evpid of this.removedDuringWalk) this.forget(evpid);
    this.removedDuringWalk = [];
  }

  get size(): number {
    return this.count;
  }

  private forget(evpid: Evpid): void {
    const msgid = evpidMsgid(evpid);
    const evpids = this.byMessage?.get(msgid);
    if (evpids === undefined || !evpids.delete(evpid)) return;

    this.count -= 1;
    if (evpids.size === 0) this.byMessage?.delete(msgid);
  }
}
