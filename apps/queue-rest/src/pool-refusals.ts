import { type Evpid, evpidMsgid, type Msgid, QueueError } from '@smtpq/protocol';
import type { Logger } from './log.js';

/** Msgids remembered for the once-per-message log lines; past this the oldest is forgotten. */
const LOGGED_MSGIDS_MAX = 10_000;

export interface PoolRefusalsOptions {
  logger: Logger;
  /** Called on a lease-lost refusal, so that the lease is checked and acquired again. */
  leaseLost: () => void;
}

/**
 * Requests that the frontend refused because of the pool: `not-owner` (another node owns the
 * message now) and `lease-lost` (this node's lease ended). Neither can succeed on a retry
 * within one call, so smtpd gets the failure at once. smtpd retries such envelopes for days,
 * so each message is logged once per code, with its owner, instead of once per call.
 */
export class PoolRefusals {
  private readonly logged = new Set<string>();

  constructor(private readonly options: PoolRefusalsOptions) {}

  /**
   * Handles a failed request. Returns true when `error` was a pool refusal (logged here, or
   * already logged for this message), and false for any other error.
   */
  handle(request: string, ids: { msgid?: Msgid; evpid?: Evpid }, error: unknown): boolean {
    if (!(error instanceof QueueError)) return false;
    if (error.code !== 'not-owner' && error.code !== 'lease-lost') return false;

    if (error.code === 'lease-lost') this.options.leaseLost();

    const msgid = ids.msgid ?? (ids.evpid === undefined ? undefined : evpidMsgid(ids.evpid));
    if (!this.firstTime(`${error.code} ${msgid}`)) return true;

    if (error.code === 'not-owner') {
      const owner = error.details?.owner ?? null;
      this.options.logger.warn(
        { request, msgid, ...ids, owner },
        'request failed: another node owns the message now and delivers it; ' +
          'smtpd gets failures for it (logged once per message)',
      );
    } else {
      this.options.logger.warn(
        { request, msgid, ...ids },
        'request failed: the node lease was lost; smtpd gets failures until a new lease ' +
          'is acquired (logged once per message)',
      );
    }
    return true;
  }

  private firstTime(key: string): boolean {
    if (this.logged.has(key)) return false;

    if (this.logged.size >= LOGGED_MSGIDS_MAX) {
      const oldest = this.logged.values().next().value as string;
      this.logged.delete(oldest);
    }
    this.logged.add(key);
    return true;
  }
}
