import { spawn } from 'node:child_process';

/** Time in ms one smtpctl call may take before it is killed and counted as failed. */
export const SMTPCTL_TIMEOUT_MS = 30_000;

/** Result of one `smtpctl discover EVPID`. */
export interface DiscoverOutcome {
  ok: boolean;
  /** smtpctl's output, or the reason it failed, on one line. */
  text: string;
}

/** smtpctl cannot be run at all (missing or not executable), so every other call fails too. */
export class SmtpctlMissingError extends Error {
  override readonly name = 'SmtpctlMissingError';

  constructor(
    readonly program: string,
    readonly code: string,
  ) {
    super(`cannot run ${program} (${code})`);
  }
}

/**
 * Runs `smtpctl discover EVPID` to its end. It throws SmtpctlMissingError when the program
 * cannot be run, and resolves with the outcome otherwise.
 */
export function smtpctlDiscover(program: string, evpid: string): Promise<DiscoverOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['discover', evpid], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), SMTPCTL_TIMEOUT_MS);

    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        reject(new SmtpctlMissingError(program, error.code));
        return;
      }
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(smtpctlOutcome(code, signal, Buffer.concat(output).toString('utf8')));
    });
  });
}

/** Returns the result of `smtpctl discover` from its exit and its output. */
function smtpctlOutcome(
  code: number | null,
  signal: NodeJS.Signals | null,
  output: string,
): DiscoverOutcome {
  const text = output.trim().replace(/\s*\n\s*/g, '; ');
  if (code !== 0) {
    const ending = signal === null ? `exit status ${code}` : `signal ${signal}`;
    return { ok: false, text: `smtpctl failed with ${ending}${text === '' ? '' : `: ${text}`}` };
  }

  // smtpctl exits 0 even when smtpd could not load the envelope, so the count it prints decides.
  const discovered = /^(\d+) envelopes? discovered/.exec(text);
  if (discovered !== null && Number(discovered[1]) > 0) return { ok: true, text };
  return {
    ok: false,
    text:
      `smtpd did not discover it (smtpctl printed ${JSON.stringify(text)}); ` +
      "queue-rest's log says why",
  };
}
