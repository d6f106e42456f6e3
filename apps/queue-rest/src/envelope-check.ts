import { ENVELOPE_BUFFER_BYTES } from './queue-proc.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

// Control characters other than tab, line feed and carriage return never occur in the
// `key: value` lines that smtpd's envelope_dump_buffer writes.
const CONTROL_CHARACTER = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/**
 * Returns why an envelope from the store must not reach smtpd, or null when it may. An
 * envelope longer than smtpd's buffer makes smtpd exit; an empty one reads as "nothing" in
 * a walk reply. With `text`, the bytes must also be UTF-8 text without control characters,
 * as smtpd writes envelopes when the queue is neither encrypted nor compressed.
 */
export function envelopeProblem(data: Buffer, options: { text: boolean }): string | null {
  if (data.length === 0) return 'the envelope is empty';
  if (data.length > ENVELOPE_BUFFER_BYTES) {
    return (
      `the envelope has ${data.length} bytes, ` +
      `more than smtpd's envelope buffer of ${ENVELOPE_BUFFER_BYTES} bytes`
    );
  }
  if (!options.text) return null;

  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return 'the envelope is not UTF-8 text';
  }
  if (CONTROL_CHARACTER.test(text)) return 'the envelope contains control characters';
  return null;
}
