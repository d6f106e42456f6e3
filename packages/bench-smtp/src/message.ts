/** Sender of every benchmark message. */
export const benchSender = 'bench@sender.test';

const FILLER_LINE = 'The quick brown fox jumps over the lazy dog, and the queue keeps every word. ';

/**
 * Builds message number `index`: RFC 5322 header fields, then body lines of 76 characters
 * padded to `size` bytes in all (CRLF line ends). No line starts with a dot, so the bytes
 * need no dot-stuffing and can be sent as they are.
 */
export function buildMessage(index: number, size: number, recipient: string): Buffer {
  const header = [
    `From: <${benchSender}>`,
    `To: <${recipient}>`,
    `Subject: smtpq benchmark message ${index}`,
    'Date: Fri, 04 Dec 2026 12:00:00 +0000',
    `Message-ID: <bench-${index}@sender.test>`,
    '',
    '',
  ].join('\r\n');

  const lines: string[] = [];
  let length = header.length;
  while (length + 78 <= size) {
    lines.push(FILLER_LINE.slice(0, 76));
    length += 78;
  }
  const last = 'x'.repeat(Math.max(0, size - length - 2));
  lines.push(last);
  return Buffer.from(`${header}${lines.join('\r\n')}\r\n`, 'latin1');
}

/** Returns the recipient of message number `index`, in the domain smtpd relays to the sink. */
export function recipientOf(index: number, domain: string): string {
  return `m${index}@${domain}`;
}
