import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Layout, msgidBytes, type Reply, result, SmtpdPeer, TYPE, u32 } from './smtpd-peer.js';

/** smtpd's queue calls as small steps, for the tests that script a whole conversation. */

const dir = mkdtempSync(join(tmpdir(), 'queue-rest-calls-'));
let fileCount = 0;

/** Writes a JSON configuration for queue-rest and returns its path. */
export function writeConfig(settings: Record<string, unknown>): string {
  fileCount += 1;
  const path = join(dir, `config-${fileCount}.json`);
  writeFileSync(path, JSON.stringify({ statsIntervalMs: 0, ...settings }));
  return path;
}

/** Writes a body file and returns its path. */
export function writeBody(bytes: Buffer): string {
  fileCount += 1;
  const path = join(dir, `body-${fileCount}`);
  writeFileSync(path, bytes);
  return path;
}

/** Starts queue-rest under a scripted smtpd with a configuration file of these settings. */
export function startQueueRest(layout: Layout, settings: Record<string, unknown>): SmtpdPeer {
  return new SmtpdPeer(layout, [writeConfig({ imsgLayout: layout, ...settings })]);
}

export function envelopeText(recipient: string): Buffer {
  return Buffer.from(`version: 3\ntype: mta\nrcpt: ${recipient}@example.org\n`);
}

export function msgidOf(reply: Reply): string {
  return reply.data.readUInt32LE(4).toString(16).padStart(8, '0');
}

export function evpidOf(reply: Reply): string {
  return reply.data.readBigUInt64LE(4).toString(16).padStart(16, '0');
}

export async function init(peer: SmtpdPeer): Promise<void> {
  const reply = await peer.call(TYPE.INIT, u32(2));
  expect(reply.data.length).toBe(0);
}

/** MESSAGE_CREATE, one ENVELOPE_CREATE per recipient, MESSAGE_COMMIT: one SMTP transaction. */
export async function acceptMessage(
  peer: SmtpdPeer,
  recipients: string[],
  bodyPath: string,
): Promise<{ msgid: string; evpids: string[]; commit: number }> {
  const created = await peer.call(TYPE.MESSAGE_CREATE);
  expect(result(created)).toBe(1);
  const msgid = msgidOf(created);

  const evpids: string[] = [];
  for (const recipient of recipients) {
    const reply = await peer.call(
      TYPE.ENVELOPE_CREATE,
      Buffer.concat([msgidBytes(msgid), envelopeText(recipient)]),
    );
    expect(result(reply)).toBe(1);
    evpids.push(evpidOf(reply));
  }

  const fd = openSync(bodyPath, 'r');
  try {
    const committed = await peer.call(TYPE.MESSAGE_COMMIT, msgidBytes(msgid), fd);
    return { msgid, evpids, commit: result(committed) };
  } finally {
    closeSync(fd);
  }
}
