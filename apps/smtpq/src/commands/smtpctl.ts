import { type DiscoverOutcome, SmtpctlMissingError, smtpctlDiscover } from '@smtpq/queue-rest';
import { CommandError } from './frontend-access.js';

export type { DiscoverOutcome };

/**
 * Runs `smtpctl discover EVPID` to its end (the code queue-rest's takeover runs too). A missing
 * or unusable program throws a CommandError, because every other call would fail the same way.
 */
export async function smtpctlDiscoverCommand(
  program: string,
  evpid: string,
): Promise<DiscoverOutcome> {
  try {
    return await smtpctlDiscover(program, evpid);
  } catch (error) {
    if (!(error instanceof SmtpctlMissingError)) throw error;
    throw new CommandError(
      `cannot run ${program} (${error.code}); install OpenSMTPD's smtpctl or pass ` +
        '--smtpctl with its path',
    );
  }
}
