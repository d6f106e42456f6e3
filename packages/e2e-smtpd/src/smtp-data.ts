/**
 * Prepares message bytes for SMTP DATA: doubles the dot at the start of each line (after any
 * LF, since smtpd also ends a line at a bare LF) and ends the content with CRLF, so that the
 * terminator `.` CRLF can follow.
 */
export function dotStuff(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lineStart = 0;

  while (lineStart < message.length) {
    if (message[lineStart] === 0x2e) {
      parts.push(Buffer.from('.'));
    }
    const newline = message.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? message.length : newline + 1;
    parts.push(message.subarray(lineStart, lineEnd));
    lineStart = lineEnd;
  }

  const endsWithCrlf =
    message.length >= 2 && message[message.length - 2] === 0x0d && message.at(-1) === 0x0a;
  if (!endsWithCrlf) {
    parts.push(Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** The msgid smtpd names in its reply to DATA: `250 2.0.0 8ecd0174 Message accepted ...`. */
export function acceptedMsgid(replyText: string): string | undefined {
  return /^250 \S+ ([0-9a-f]{8}) /.exec(replyText)?.[1];
}
