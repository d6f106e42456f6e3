/**
 * OpenBSD imsg framing as smtpd speaks it to a proc queue backend: a 16-byte header in host
 * byte order (little-endian on every platform queue-rest runs on), then the payload.
 *
 * - Up to OpenSMTPD 7.6 (openbsd-compat/imsg.h before the May 2025 update): `u32 type,
 *   u16 len, u16 flags, u32 peerid, u32 pid`; flags bit 0 (IMSGF_HASFD) marks a frame that
 *   carries an fd.
 * - From OpenSMTPD 7.7.0: `u32 type, u32 len, u32 peerid, u32 pid`; the top bit of len
 *   (IMSG_FD_MARK, 0x80000000 in imsg.c) marks the fd.
 *
 * A frame without an fd reads the same in both layouts on a little-endian host.
 */

export type ImsgLayout = 'pre-7.7' | '7.7';

export const IMSG_HEADER_SIZE = 16;

/** MAX_IMSGSIZE in imsg.h: the largest frame, header included. */
export const MAX_IMSGSIZE = 16384;

const IMSGF_HASFD = 0x1;
const IMSG_FD_MARK = 0x80000000;

/** The IMSG_FD_MARK bit of a 7.7 header, as it appears in the flags field of a pre-7.7 header. */
const FD_MARK_AS_OLD_FLAGS = IMSG_FD_MARK >>> 16;

export interface ImsgFrame {
  type: number;
  peerid: number;
  pid: number;
  data: Buffer;
  /** The fd passed with this frame, when its header says it carries one. */
  fd: number | undefined;
}

/** A frame from smtpd that cannot be read: the channel is corrupt and queue-rest must stop. */
export class ImsgFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImsgFrameError';
  }
}

/** Encodes one frame; `hasFd` sets the layout's fd flag (the fd itself travels beside it). */
export function encodeFrame(
  layout: ImsgLayout,
  type: number,
  data: Buffer,
  hasFd: boolean,
  pid: number,
): Buffer {
  const length = IMSG_HEADER_SIZE + data.length;
  if (length > MAX_IMSGSIZE) {
    throw new RangeError(`imsg frame of ${length} bytes exceeds MAX_IMSGSIZE (${MAX_IMSGSIZE})`);
  }

  const frame = Buffer.alloc(length);
  frame.writeUInt32LE(type, 0);
  if (layout === '7.7') {
    frame.writeUInt32LE((length | (hasFd ? IMSG_FD_MARK : 0)) >>> 0, 4);
  } else {
    frame.writeUInt16LE(length, 4);
    frame.writeUInt16LE(hasFd ? IMSGF_HASFD : 0, 6);
  }
  frame.writeUInt32LE(0, 8);
  frame.writeUInt32LE(pid >>> 0, 12);
  data.copy(frame, IMSG_HEADER_SIZE);
  return frame;
}

interface Header {
  type: number;
  length: number;
  hasFd: boolean;
  peerid: number;
  pid: number;
}

/**
 * Splits the byte stream from smtpd into frames. Received fds are queued and given, in
 * order, to the frames whose header carries the fd flag. smtpd sends each fd with the first
 * bytes of its frame, but one read can hold several frames, and a header can be split across
 * reads.
 */
export class ImsgReader {
  private currentLayout: ImsgLayout;
  private tentative: boolean;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly fds: number[] = [];
  private readonly onLayoutChange: ((layout: ImsgLayout) => void) | undefined;

  /**
   * With `tentative`, the layout is a guess (pre-7.7): the first frame with a fd flag of the
   * other layout switches to it instead of failing, and `onLayoutChange` is called.
   */
  constructor(
    layout: ImsgLayout,
    options: { tentative?: boolean; onLayoutChange?: (layout: ImsgLayout) => void } = {},
  ) {
    this.currentLayout = layout;
    this.tentative = options.tentative === true;
    this.onLayoutChange = options.onLayoutChange;
  }

  get layout(): ImsgLayout {
    return this.currentLayout;
  }

  /** Bytes received that do not make a whole frame yet. */
  get pendingBytes(): number {
    return this.buffered.length;
  }

  /** Passed fds not yet given to a frame. */
  get pendingFds(): readonly number[] {
    return this.fds;
  }

  /** Adds the bytes and fds of one read; returns the frames they complete. */
  push(bytes: Buffer, fds: number[]): ImsgFrame[] {
    this.fds.push(...fds);
    this.buffered = this.buffered.length === 0 ? bytes : Buffer.concat([this.buffered, bytes]);

    const frames: ImsgFrame[] = [];
    let offset = 0;
    while (this.buffered.length - offset >= IMSG_HEADER_SIZE) {
      const header = this.readHeader(this.buffered.subarray(offset, offset + IMSG_HEADER_SIZE));
      if (this.buffered.length - offset < header.length) break;

      const data = Buffer.from(
        this.buffered.subarray(offset + IMSG_HEADER_SIZE, offset + header.length),
      );
      let fd: number | undefined;
      if (header.hasFd) {
        fd = this.fds.shift();
        if (fd === undefined) {
          throw new ImsgFrameError(
            `frame of type ${header.type} is flagged as carrying an fd, but no fd was received`,
          );
        }
      }

      frames.push({ type: header.type, peerid: header.peerid, pid: header.pid, data, fd });
      offset += header.length;
    }

    this.buffered = this.buffered.subarray(offset);
    return frames;
  }

  private readHeader(bytes: Buffer): Header {
    const type = bytes.readUInt32LE(0);
    const peerid = bytes.readUInt32LE(8);
    const pid = bytes.readUInt32LE(12);

    let length: number;
    let hasFd: boolean;
    if (this.currentLayout === '7.7') {
      const field = bytes.readUInt32LE(4);
      length = (field & ~IMSG_FD_MARK) >>> 0;
      hasFd = (field & IMSG_FD_MARK) !== 0;
    } else {
      length = bytes.readUInt16LE(4);
      const flags = bytes.readUInt16LE(6);
      if (flags === FD_MARK_AS_OLD_FLAGS && this.tentative) {
        this.switchLayout('7.7');
        return this.readHeader(bytes);
      }
      if ((flags & ~IMSGF_HASFD) !== 0) {
        throw new ImsgFrameError(
          `frame of type ${type} has unknown imsg flags 0x${flags.toString(16)}; ` +
            'if smtpd is OpenSMTPD 7.7 or later, set imsgLayout to "7.7"',
        );
      }
      hasFd = (flags & IMSGF_HASFD) !== 0;
    }

    if (length < IMSG_HEADER_SIZE || length > MAX_IMSGSIZE) {
      const hint =
        this.currentLayout === '7.7'
          ? '; if smtpd is older than 7.7, set imsgLayout to "pre-7.7"'
          : '';
      throw new ImsgFrameError(
        `frame of type ${type} has invalid length ${length} ` +
          `(must be ${IMSG_HEADER_SIZE} to ${MAX_IMSGSIZE})${hint}`,
      );
    }

    // Once a frame with an fd has shown the layout, a guess becomes a fact.
    if (hasFd) this.tentative = false;
    return { type, length, hasFd, peerid, pid };
  }

  private switchLayout(layout: ImsgLayout): void {
    this.currentLayout = layout;
    this.tentative = false;
    this.onLayoutChange?.(layout);
  }
}
