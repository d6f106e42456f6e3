import { createServeCommand } from '@smtpq/server';
import type { Command } from 'commander';
import { openStoreByUrl, STORE_OPENERS } from '../stores.js';

/** Builds `smtpq serve`, which serves any store of STORE_OPENERS, chosen by the --store scheme. */
export function serveCommand(): Command {
  const schemes = Object.keys(STORE_OPENERS).join(', ');
  return createServeCommand({
    name: 'serve',
    programName: 'smtpq serve',
    openStore: openStoreByUrl,
    storeExample: `fs:///var/lib/smtpq (known schemes: ${schemes})`,
  });
}
