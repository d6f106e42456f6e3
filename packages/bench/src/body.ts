import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueClient } from '@smtpq/protocol';
import type { Progress } from './progress.js';
import type { ServerProcess } from './server-process.js';
import { bundleOf, mailBody } from './workload.js';

export interface BodyResult {
  bytes: number;
  uploadMiBPerSecond: number;
  downloadMiBPerSecond: number;
  /** Peak resident memory of the server after it started, in bytes. */
  idlePeakBytes: number;
  /** Peak resident memory of the server after the upload and the download, in bytes. */
  peakBytes: number;
}

const MiB = 1024 * 1024;

/** Writes a file of `bytes` bytes of mail-like text, in 1 MiB steps. */
async function writeBodyFile(path: string, bytes: number): Promise<void> {
  const chunk = mailBody(MiB);
  const file = await open(path, 'w');
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      await file.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)));
    }
  } finally {
    await file.close();
  }
}

/**
 * Uploads one message with a body of `bytes` bytes from a file (as queue-rest sends smtpd's
 * message file) and reads the body back, on a server that did nothing else before.
 */
export async function measureBody(
  server: ServerProcess,
  dir: string,
  bytes: number,
  progress: Progress,
): Promise<BodyResult> {
  const path = join(dir, 'body.eml');
  await writeBodyFile(path, bytes);
  const idlePeakBytes = await server.peakResidentBytes();
  const client = new QueueClient({ url: server.url, connections: 1, timeoutMs: 120_000 });

  try {
    const bundle = bundleOf(1, Buffer.alloc(0));
    let start = performance.now();
    await client.messageBundle(bundle.msgid, bundle.envelopes, { path });
    const uploadSeconds = (performance.now() - start) / 1000;
    progress.update(1);

    start = performance.now();
    const body = await client.bodyGet(bundle.msgid);
    let received = 0;
    for await (const chunk of body.stream) received += (chunk as Buffer).length;
    const downloadSeconds = (performance.now() - start) / 1000;
    if (received !== bytes) {
      throw new Error(`the body read back has ${received} bytes, ${bytes} were sent`);
    }
    progress.update(2);

    return {
      bytes,
      uploadMiBPerSecond: bytes / MiB / uploadSeconds,
      downloadMiBPerSecond: bytes / MiB / downloadSeconds,
      idlePeakBytes,
      peakBytes: await server.peakResidentBytes(),
    };
  } finally {
    await client.close();
  }
}
