import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildMessage, recipientOf } from '../src/message.js';
import { type CountingSink, startCountingSink } from '../src/sink.js';
import { sendLoad } from '../src/smtp-load.js';

let sink: CountingSink | undefined;

afterEach(async () => {
  await sink?.stop();
  sink = undefined;
});

/** Sends `chunks` one write at a time on one connection and returns every reply line. */
async function converse(port: number, chunks: string[]): Promise<string[]> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));

  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await closed;
  return received.split('\r\n').filter((line) => line !== '');
}

describe('buildMessage', () => {
  it('has the requested size and CRLF lines', () => {
    const message = buildMessage(7, 4096, recipientOf(7, 'relay.test'));

    expect(message.length).toBe(4096);
    expect(message.toString('latin1')).toContain('To: <m7@relay.test>\r\n');
    expect(message.toString('latin1').endsWith('\r\n')).toBe(true);
    expect(/(^|\n)\./.test(message.toString('latin1'))).toBe(false);
  });
});

describe('sendLoad against the counting sink', () => {
  it('counts every message and reply', async () => {
    sink = await startCountingSink();

    const result = await sendLoad({
      port: sink.port,
      messages: 30,
      sessions: 3,
      messagesPerConnection: 4,
      from: 'bench@sender.test',
      recipientOf: (index) => recipientOf(index, 'relay.test'),
      messageOf: (index) => buildMessage(index, 1024, recipientOf(index, 'relay.test')),
    });

    expect(result.accepted).toBe(30);
    expect(result.failed).toBe(0);
    expect(result.connections).toBe(9);
    expect(result.replies['220']).toBe(9);
    expect(result.replies['221']).toBe(9);
    expect(result.replies['354']).toBe(30);
    // EHLO, MAIL, RCPT and the final dot.
    expect(result.replies['250']).toBe(9 + 3 * 30);
    expect(result.lastAcceptedAt).toBeGreaterThan(result.startedAt);
    expect(sink.messages).toBe(30);
  });

  it('counts refusals as failed messages', async () => {
    const server = net.createServer((socket) => {
      socket.write('220 refusing.test ESMTP\r\n');
      socket.on('data', (chunk: Buffer) => {
        const line = chunk.toString('latin1');
        if (line.startsWith('EHLO')) socket.write('250 refusing.test\r\n');
        else if (line.startsWith('MAIL')) socket.write('250 2.1.0 Ok\r\n');
        else if (line.startsWith('RCPT')) socket.write('451 4.3.0 try later\r\n');
        else if (line.startsWith('RSET')) socket.write('250 2.0.0 Ok\r\n');
        else if (line.startsWith('QUIT')) socket.end('221 2.0.0 Bye\r\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;

    try {
      const result = await sendLoad({
        port,
        messages: 5,
        sessions: 2,
        messagesPerConnection: 10,
        from: 'bench@sender.test',
        recipientOf: (index) => recipientOf(index, 'relay.test'),
        messageOf: (index) => buildMessage(index, 1024, recipientOf(index, 'relay.test')),
      });

      expect(result.accepted).toBe(0);
      expect(result.failed).toBe(5);
      expect(result.replies['451']).toBe(5);
      expect(result.failureSamples[0]).toBe('451 4.3.0 try later');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('counting sink', () => {
  it('finds a terminator split over two reads', async () => {
    sink = await startCountingSink();

    const replies = await converse(sink.port, [
      'EHLO client.test\r\n',
      'MAIL FROM:<a@sender.test>\r\n',
      'RCPT TO:<b@relay.test>\r\n',
      'DATA\r\n',
      'Subject: split\r\n\r\nbody line\r\n.',
      '\r\nQUIT\r\n',
    ]);

    expect(sink.messages).toBe(1);
    expect(replies).toContain('250 2.0.0 Ok: counted by the sink');
    expect(replies.at(-1)).toBe('221 2.0.0 Bye');
  });

  it('answers pipelined commands in order', async () => {
    sink = await startCountingSink();

    const replies = await converse(sink.port, [
      'EHLO client.test\r\n',
      'MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@relay.test>\r\nDATA\r\n',
      'Subject: one\r\n\r\n..dot-stuffed line\r\n.\r\nQUIT\r\n',
    ]);

    expect(replies).toContain('250-PIPELINING');
    expect(replies.slice(-5)).toEqual([
      '250 2.0.0 Ok',
      '250 2.0.0 Ok',
      '354 end with <CRLF>.<CRLF>',
      '250 2.0.0 Ok: counted by the sink',
      '221 2.0.0 Bye',
    ]);
    expect(sink.messages).toBe(1);
  });

  it('times out waiting for missing messages', async () => {
    sink = await startCountingSink();

    await expect(sink.waitForMessages(1, 50)).rejects.toThrow(
      'the sink received 0 of 1 messages in 50 ms',
    );
  });
});
