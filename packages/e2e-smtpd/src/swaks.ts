import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from './command.js';
import { acceptedMsgid, dotStuff } from './smtp-data.js';

export interface MailRequest {
  /** Port of smtpd on 127.0.0.1. */
  port: number;
  from: string;
  to: string[];
  /** Body text under swaks' own test headers. */
  body?: string;
  /** A whole message (header and body) sent byte for byte, dot-stuffed by the harness. */
  data?: Buffer;
  /** Time swaks waits for each reply, in seconds. */
  timeoutSeconds?: number;
}

/** One reply of the server, as swaks printed it. */
export interface SmtpReply {
  code: number;
  text: string;
}

export interface MailResult {
  /** swaks' exit status: 0 when the message was accepted. */
  exitCode: number | null;
  /** The last line of every server reply, in order, including the greeting and QUIT's. */
  replies: SmtpReply[];
  /** The reply to the end of DATA, when swaks got that far. */
  dataReply: SmtpReply | undefined;
  accepted: boolean;
  /** The msgid smtpd gave the accepted message. */
  msgid: string | undefined;
  transcript: string;
}

/** Sends one message with swaks to smtpd on 127.0.0.1:port and returns the SMTP replies. */
export async function sendMail(request: MailRequest): Promise<MailResult> {
  const args = [
    '--server',
    `127.0.0.1:${request.port}`,
    '--from',
    request.from,
    '--to',
    request.to.join(','),
    '--timeout',
    `${request.timeoutSeconds ?? 60}s`,
    '--suppress-data',
  ];

  let folder: string | undefined;
  if (request.data !== undefined) {
    // With --no-data-fixup swaks sends the file as it is and adds only CRLF after it, so the
    // file ends with the final dot.
    folder = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-swaks-'));
    const dataPath = path.join(folder, 'data');
    writeFileSync(dataPath, Buffer.concat([dotStuff(request.data), Buffer.from('.')]));
    args.push('--data', `@${dataPath}`, '--no-data-fixup');
  } else if (request.body !== undefined) {
    args.push('--body', request.body);
  }

  try {
    const timeoutMs = ((request.timeoutSeconds ?? 60) + 30) * 1000;
    const result = await runCommand('swaks', args, { timeoutMs });
    return parseTranscript(result.code, `${result.stdout}${result.stderr}`);
  } finally {
    if (folder !== undefined) {
      rmSync(folder, { recursive: true, force: true });
    }
  }
}

function parseTranscript(exitCode: number | null, transcript: string): MailResult {
  const replies: SmtpReply[] = [];
  let dataReply: SmtpReply | undefined;
  let afterData = false;

  for (const line of transcript.split('\n')) {
    // swaks marks what it sends with " -> " and what it receives with "<- " or, for an
    // unexpected reply, "<** ".
    if (/^ -> \d+ lines sent|^ -> \.$/.test(line)) {
      afterData = true;
      continue;
    }
    const match = /^<(?:-|\*\*) +(\d{3})([ -])(.*)$/.exec(line);
    if (match === null || match[2] === '-') {
      continue;
    }

    const reply = { code: Number(match[1]), text: `${match[1]} ${match[3]}` };
    replies.push(reply);
    if (afterData) {
      dataReply = reply;
      afterData = false;
    }
  }

  const accepted = dataReply?.code === 250;
  return {
    exitCode,
    replies,
    dataReply,
    accepted,
    msgid: accepted && dataReply !== undefined ? acceptedMsgid(dataReply.text) : undefined,
    transcript,
  };
}
