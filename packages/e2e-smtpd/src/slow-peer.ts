import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Frontend } from './frontend.js';

/** Returns a Content-Digest header value (sha-256) of `bytes`. */
export function digestHeader(bytes: Buffer): string {
  return `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
}

/** Peak resident memory of the frontend (VmHWM), in bytes. */
export function peakRss(frontend: Frontend): number {
  const status = readFileSync(`/proc/${frontend.pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmHWM for the frontend's PID ${frontend.pid}`);
  return Number(match[1]) * 1024;
}

/** Returns the frontend's JSON log records (pino, one per line on its stdout). */
export function logRecords(frontend: Frontend): Array<Record<string, unknown>> {
  return frontend
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Creates an open message with a chosen msgid, and throws unless the status is 201. */
export async function createMessage(frontend: Frontend, msgid: string): Promise<void> {
  const response = await fetch(`${frontend.url}/v1/messages/${msgid}`, { method: 'PUT' });
  if (response.status !== 201) {
    throw new Error(`create of message ${msgid} returned status ${response.status}, expected 201`);
  }
}

/** Returns the status of `GET /v1/messages/MSGID` and the body size it reports. */
export async function messageState(
  frontend: Frontend,
  msgid: string,
): Promise<{ status: number; bodySize?: unknown }> {
  const response = await fetch(`${frontend.url}/v1/messages/${msgid}`);
  const info = (await response.json()) as { bodySize?: unknown };
  return { status: response.status, bodySize: info.bodySize };
}

/**
 * Sends the first `fastBytes` of a declared body at once, then 8 KiB in pieces of 1 KiB a
 * tenth of `idleTimeoutMs` apart, then nothing more, and returns the response that the server
 * sends on its own.
 */
export function sendThenStall(
  frontend: Frontend,
  pathname: string,
  declared: Buffer,
  options: { fastBytes: number; idleTimeoutMs: number },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { fastBytes, idleTimeoutMs } = options;
  return new Promise((resolve, reject) => {
    const req = request(`${frontend.url}${pathname}`, {
      method: 'PUT',
      headers: {
        'content-length': String(declared.length),
        'content-digest': digestHeader(declared),
        'content-type': 'application/octet-stream',
      },
    });
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        req.destroy();
        resolve({
          status: response.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
        });
      });
    });
    req.on('error', reject);

    void (async () => {
      req.write(declared.subarray(0, fastBytes));
      for (let offset = fastBytes; offset < fastBytes + 8 * 1024; offset += 1024) {
        req.write(declared.subarray(offset, offset + 1024));
        await sleep(idleTimeoutMs / 10);
      }
    })();
  });
}
