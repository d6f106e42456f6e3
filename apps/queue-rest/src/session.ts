import { closeSync } from 'node:fs';
import type { QueueBackend } from './backend.js';
import type { FdTransport } from './fd-transport.js';
import { encodeFrame, type ImsgFrame, ImsgFrameError, type ImsgReader } from './imsg.js';
import type { Logger } from './log.js';
import { decodeRequest, PROC_QUEUE, type QueueReply, type QueueRequest } from './queue-proc.js';

/** Exit status of the session with smtpd: 0 at end of file, 1 on a broken channel. */
export type ExitStatus = 0 | 1;

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // The fd is being discarded; a failure to close it changes nothing.
  }
}

/**
 * The conversation with smtpd on fd 0: frames are read as they arrive and replied to one at
 * a time, in order (smtpd waits for each reply before it sends the next request). A frame
 * that cannot be read ends the session with status 1; end of file ends it with status 0.
 */
export class Session {
  private readonly frames: ImsgFrame[] = [];
  private busy = false;
  private ended = false;
  private finish: ((status: ExitStatus) => void) | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly transport: FdTransport,
    private readonly reader: ImsgReader,
    private readonly backend: QueueBackend,
    private readonly logger: Logger,
  ) {}

  /** Runs until end of file or a broken frame; returns the exit status. */
  run(): Promise<ExitStatus> {
    const done = new Promise<ExitStatus>((resolve) => {
      this.finish = resolve;
    });

    this.transport.start({
      data: (bytes, fds) => this.receive(bytes, fds),
      end: () => {
        this.ended = true;
        void this.pump();
      },
      error: (error) => this.fatal(`the socket to smtpd failed: ${error.message}`),
    });
    return done;
  }

  /**
   * Resolves when no request from smtpd waits for its reply, such as before running
   * `smtpctl discover`, which makes smtpd send a request of its own.
   */
  whenIdle(): Promise<void> {
    if (!this.busy && this.frames.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private receive(bytes: Buffer, fds: number[]): void {
    try {
      this.frames.push(...this.reader.push(bytes, fds));
    } catch (error) {
      if (!(error instanceof ImsgFrameError)) throw error;
      this.fatal(`broken frame from smtpd: ${error.message}`);
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy || this.finish === undefined) return;
    this.busy = true;

    try {
      for (let frame = this.frames.shift(); frame !== undefined; frame = this.frames.shift()) {
        if (!(await this.reply(frame))) return;
      }
    } finally {
      this.busy = false;
    }

    if (this.frames.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
    if (this.ended) this.endOfFile();
  }

  /** Replies to one frame; returns false when the session is over. */
  private async reply(frame: ImsgFrame): Promise<boolean> {
    let request: QueueRequest;
    try {
      request = decodeRequest(frame);
    } catch (error) {
      closeQuietly(frame.fd);
      if (!(error instanceof ImsgFrameError)) throw error;
      this.fatal(`broken frame from smtpd: ${error.message}`);
      return false;
    }

    // From here the backend owns the fd of a MESSAGE_COMMIT and closes it.
    let reply: QueueReply;
    try {
      reply = await this.backend.handle(request);
    } catch (error) {
      if (error instanceof ImsgFrameError) {
        this.fatal(`broken frame from smtpd: ${error.message}`);
      } else {
        // A bug, not a storage fault: no reply can be made up for it, so smtpd must stop too.
        this.logger.error(
          { err: error, request: request.name },
          'unexpected error while handling a request',
        );
        this.fatal(`internal error while handling ${request.name}`);
      }
      return false;
    }

    const hasFd = reply.fd !== undefined;
    const bytes = encodeFrame(this.reader.layout, PROC_QUEUE.OK, reply.data, hasFd, process.pid);
    try {
      await this.transport.send(bytes, reply.fd);
    } catch (error) {
      this.fatal(`sending a reply to smtpd failed: ${(error as Error).message}`);
      return false;
    } finally {
      closeQuietly(reply.fd);
    }
    return true;
  }

  private endOfFile(): void {
    if (this.reader.pendingBytes > 0) {
      this.logger.warn(
        { bytes: this.reader.pendingBytes },
        'smtpd closed the socket in the middle of a frame',
      );
    }
    for (const fd of this.reader.pendingFds) closeQuietly(fd);
    this.logger.info('smtpd closed the socket; exiting');
    this.end(0);
  }

  private fatal(message: string): void {
    this.transport.stop();
    this.logger.fatal(message);
    this.end(1);
  }

  private end(status: ExitStatus): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    const finish = this.finish;
    this.finish = undefined;
    finish?.(status);
  }
}
