import { execFileSync } from 'node:child_process';

const gcOptionByCli = new Map<string, string[]>();

/**
 * Returns `--gc-interval 0` when the measured command line has that option. A run of a few
 * minutes would otherwise include the first garbage collection pass, 10 s after the start,
 * which a long-running frontend makes once every 5 minutes.
 */
function garbageCollectionOff(cli: string): string[] {
  let option = gcOptionByCli.get(cli);
  if (option === undefined) {
    const help = execFileSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' });
    option = help.includes('--gc-interval') ? ['--gc-interval', '0'] : [];
    gcOptionByCli.set(cli, option);
  }
  return option;
}

/** Returns the arguments after `node` of `smtpq serve` on `storeUrl`, without `--listen`. */
export function serveArgs(cli: string, storeUrl: string): string[] {
  return [cli, 'serve', '--store', storeUrl, ...garbageCollectionOff(cli)];
}
