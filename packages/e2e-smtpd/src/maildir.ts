import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One delivered message file of a maildir. */
export interface MaildirMessage {
  file: string;
  data: Buffer;
  /** The `Delivered-To` address that smtpd's local delivery adds, or null. */
  deliveredTo: string | null;
}

/** Reads every delivered message of a maildir (`new/` and `cur/`), sorted by file name. */
export function readMaildir(maildir: string): MaildirMessage[] {
  const messages: MaildirMessage[] = [];

  for (const sub of ['new', 'cur']) {
    let names: string[];
    try {
      names = readdirSync(path.join(maildir, sub)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(maildir, sub, name);
      const data = readFileSync(file);
      messages.push({ file, data, deliveredTo: headerValue(data, 'Delivered-To') });
    }
  }
  return messages;
}

/** Splits a message at its first empty line into the header text and the body bytes. */
export function splitMessage(data: Buffer): { header: string; body: Buffer } {
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  if (lf === -1 && crlf === -1) {
    return { header: data.toString('latin1'), body: Buffer.alloc(0) };
  }

  const useCrlf = crlf !== -1 && (lf === -1 || crlf < lf);
  const end = useCrlf ? crlf : lf;
  const separator = useCrlf ? 4 : 2;
  return {
    header: data.subarray(0, end).toString('latin1'),
    body: data.subarray(end + separator),
  };
}

/** Returns the value of the first header field called `name`, unfolded, or null. */
export function headerValue(data: Buffer, name: string): string | null {
  const { header } = splitMessage(data);
  const unfolded = header.replace(/\r?\n[ \t]+/g, ' ');
  const wanted = `${name.toLowerCase()}:`;

  for (const line of unfolded.split(/\r?\n/)) {
    if (line.toLowerCase().startsWith(wanted)) {
      return line.slice(wanted.length).trim();
    }
  }
  return null;
}
