import { isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT` as given to --listen: `127.0.0.1:8025`, `[::1]:8025`, `localhost:0`.
 * Throws a TypeError naming the value and the expected form.
 */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const bracketed = match?.[1] !== undefined;

  if (match === null || host === undefined || port > 65535 || (bracketed && isIP(host) !== 6)) {
    throw new TypeError(
      `invalid address "${value}": expected HOST:PORT such as 127.0.0.1:8025, ` +
        'with an IPv6 address in brackets such as [::1]:8025',
    );
  }
  return { host, port };
}
