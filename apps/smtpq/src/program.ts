import { Command } from 'commander';
import { registerConformance } from './commands/conformance.js';
import { registerDiscover } from './commands/discover.js';
import { registerInstallQueueRest } from './commands/install-queue-rest.js';
import { registerPool } from './commands/pool.js';
import { registerQueue } from './commands/queue.js';
import { serveCommand } from './commands/serve.js';

/** Builds the `smtpq` command line. Each subcommand lives in its own file under commands/. */
export function createProgram(): Command {
  const program = new Command('smtpq')
    .description('The OpenSMTPD mail queue over a small REST protocol, in any storage.')
    .showHelpAfterError();

  program.addCommand(serveCommand());
  registerConformance(program);
  registerInstallQueueRest(program);
  registerQueue(program);
  registerDiscover(program);
  registerPool(program);
  return program;
}
