import { createHash } from 'node:crypto';

/**
 * Returns `size` bytes in which every aligned block of 256 contains every byte value once: NUL,
 * bare CR and LF, 8-bit bytes. The order changes from one 64 KiB block to the next, so a lost,
 * repeated or swapped chunk changes the bytes. `seed` makes different bodies.
 */
export function everyByteValue(size: number, seed = 0): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) {
    bytes[i] = (i * 167 + (i >>> 8) * 13 + (i >>> 16) * 7 + seed) & 0xff;
  }
  return bytes;
}

/** Lines that mail transports are known to damage: dots, bare CR and LF, NUL and 8-bit bytes. */
export const AWKWARD_TEXT = Buffer.concat([
  Buffer.from('From: a@example.test\r\nSubject: \xe9t\xe9\r\n\r\n', 'latin1'),
  Buffer.from('.\r\n..\r\nbare LF\nbare CR\rNUL\0end\r\n.\n\r\n', 'latin1'),
  Buffer.from([0x00, 0x0d, 0x0a, 0x0d, 0x0d, 0x0a, 0x0a, 0x80, 0xff, 0x1b, 0x7f]),
]);

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Describes where two byte sequences first differ, for a failure message. */
export function firstDifference(actual: Buffer, expected: Buffer): string {
  const shared = Math.min(actual.length, expected.length);
  for (let i = 0; i < shared; i++) {
    if (actual[i] !== expected[i]) {
      return `byte ${i} is 0x${hex(actual[i])} instead of 0x${hex(expected[i])}`;
    }
  }
  if (actual.length !== expected.length) {
    return `${actual.length} bytes instead of ${expected.length}`;
  }
  return 'no difference';
}

function hex(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(2, '0');
}
