import { describe, expect, it } from 'vitest';
import { encodeFrame, ImsgFrameError, type ImsgLayout, ImsgReader } from '../src/imsg.js';
import { decodeRequest, PROC_QUEUE, replyWalk } from '../src/queue-proc.js';

const LAYOUTS: ImsgLayout[] = ['pre-7.7', '7.7'];

function header(type: number, lengthField: number, flags: number | null): Buffer {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32LE(type, 0);
  if (flags === null) {
    bytes.writeUInt32LE(lengthField >>> 0, 4);
  } else {
    bytes.writeUInt16LE(lengthField, 4);
    bytes.writeUInt16LE(flags, 6);
  }
  return bytes;
}

describe('imsg header layouts', () => {
  it('pre-7.7 frame with an fd sets flags bit 0', () => {
    const frame = encodeFrame('pre-7.7', 0, Buffer.from('abcd'), true, 77);

    expect(frame.readUInt32LE(0)).toBe(0);
    expect(frame.readUInt16LE(4)).toBe(20);
    expect(frame.readUInt16LE(6)).toBe(1);
    expect(frame.readUInt32LE(12)).toBe(77);
    expect(frame.subarray(16).toString()).toBe('abcd');
  });

  it('7.7 frame with an fd sets the top bit of len', () => {
    const frame = encodeFrame('7.7', 0, Buffer.from('abcd'), true, 77);

    expect(frame.readUInt32LE(4)).toBe((0x80000000 | 20) >>> 0);
    expect(frame.subarray(16).toString()).toBe('abcd');
  });

  it('frames without an fd are the same in both layouts', () => {
    const payload = Buffer.from('payload');

    expect(encodeFrame('pre-7.7', 5, payload, false, 1)).toEqual(
      encodeFrame('7.7', 5, payload, false, 1),
    );
  });

  it('frame over MAX_IMSGSIZE is refused', () => {
    expect(() => encodeFrame('7.7', 0, Buffer.alloc(16384 - 15), false, 1)).toThrow(RangeError);
  });
});

describe('ImsgReader', () => {
  for (const layout of LAYOUTS) {
    it(`reads several frames from one read (${layout})`, () => {
      const reader = new ImsgReader(layout);
      const bytes = Buffer.concat([
        encodeFrame(layout, PROC_QUEUE.MESSAGE_CREATE, Buffer.alloc(0), false, 1),
        encodeFrame(layout, PROC_QUEUE.MESSAGE_COMMIT, Buffer.from([1, 0, 0, 0]), true, 1),
        encodeFrame(layout, PROC_QUEUE.ENVELOPE_WALK, Buffer.alloc(0), false, 1),
      ]);

      const frames = reader.push(bytes, [42]);

      expect(frames.map((frame) => frame.type)).toEqual([4, 6, 12]);
      expect(frames.map((frame) => frame.fd)).toEqual([undefined, 42, undefined]);
      expect(reader.pendingBytes).toBe(0);
    });

    it(`reads a header split across two reads (${layout})`, () => {
      const reader = new ImsgReader(layout);
      const frame = encodeFrame(
        layout,
        PROC_QUEUE.MESSAGE_DELETE,
        Buffer.from([9, 0, 0, 0]),
        false,
        1,
      );

      expect(reader.push(frame.subarray(0, 7), [])).toEqual([]);
      expect(reader.pendingBytes).toBe(7);
      const frames = reader.push(frame.subarray(7), []);

      expect(frames).toHaveLength(1);
      expect(frames[0]!.data).toEqual(Buffer.from([9, 0, 0, 0]));
    });

    it(`gives queued fds to flagged frames in order (${layout})`, () => {
      const reader = new ImsgReader(layout);
      const first = encodeFrame(
        layout,
        PROC_QUEUE.MESSAGE_COMMIT,
        Buffer.from([1, 0, 0, 0]),
        true,
        1,
      );
      const second = encodeFrame(
        layout,
        PROC_QUEUE.MESSAGE_COMMIT,
        Buffer.from([2, 0, 0, 0]),
        true,
        1,
      );

      // Both fds arrive with the first bytes; the second frame completes in a later read.
      const early = reader.push(Buffer.concat([first, second.subarray(0, 3)]), [10, 11]);
      const late = reader.push(second.subarray(3), []);

      expect(early.map((frame) => frame.fd)).toEqual([10]);
      expect(late.map((frame) => frame.fd)).toEqual([11]);
    });

    it(`fails on a flagged frame without an fd (${layout})`, () => {
      const reader = new ImsgReader(layout);
      const frame = encodeFrame(
        layout,
        PROC_QUEUE.MESSAGE_COMMIT,
        Buffer.from([1, 0, 0, 0]),
        true,
        1,
      );

      expect(() => reader.push(frame, [])).toThrow(/flagged as carrying an fd, but no fd/);
    });
  }

  it('fails on a length below the header size', () => {
    const reader = new ImsgReader('7.7');

    expect(() => reader.push(header(2, 8, null), [])).toThrow(ImsgFrameError);
    expect(() => new ImsgReader('pre-7.7').push(header(2, 8, 0), [])).toThrow(/invalid length 8/);
  });

  it('fails on a length above MAX_IMSGSIZE', () => {
    const reader = new ImsgReader('7.7');

    expect(() => reader.push(header(2, 16385, null), [])).toThrow(/invalid length 16385/);
  });

  it('fails on unknown pre-7.7 flags', () => {
    const reader = new ImsgReader('pre-7.7');

    expect(() => reader.push(header(6, 20, 0x8000), [3])).toThrow(/unknown imsg flags 0x8000/);
  });

  it('old-layout reader of a 7.7 frame with an fd points at imsgLayout', () => {
    const frame = encodeFrame('7.7', PROC_QUEUE.MESSAGE_COMMIT, Buffer.from([1, 0, 0, 0]), true, 1);

    expect(() => new ImsgReader('pre-7.7').push(frame, [3])).toThrow(/set imsgLayout to "7.7"/);
  });

  it('7.7 reader of an old frame with an fd fails on its length', () => {
    const frame = encodeFrame(
      'pre-7.7',
      PROC_QUEUE.MESSAGE_COMMIT,
      Buffer.from([1, 0, 0, 0]),
      true,
      1,
    );

    expect(() => new ImsgReader('7.7').push(frame, [3])).toThrow(/invalid length 65556/);
  });

  it('tentative layout switches to 7.7 on a 7.7 fd flag', () => {
    const changes: ImsgLayout[] = [];
    const reader = new ImsgReader('pre-7.7', {
      tentative: true,
      onLayoutChange: (layout) => changes.push(layout),
    });
    const frame = encodeFrame('7.7', PROC_QUEUE.MESSAGE_COMMIT, Buffer.from([1, 0, 0, 0]), true, 1);

    const frames = reader.push(frame, [5]);

    expect(frames[0]!.fd).toBe(5);
    expect(reader.layout).toBe('7.7');
    expect(changes).toEqual(['7.7']);
  });

  it('tentative layout is confirmed by an old fd flag', () => {
    const reader = new ImsgReader('pre-7.7', { tentative: true });
    const old = encodeFrame(
      'pre-7.7',
      PROC_QUEUE.MESSAGE_COMMIT,
      Buffer.from([1, 0, 0, 0]),
      true,
      1,
    );
    const newer = encodeFrame('7.7', PROC_QUEUE.MESSAGE_COMMIT, Buffer.from([1, 0, 0, 0]), true, 1);

    reader.push(old, [5]);

    expect(reader.layout).toBe('pre-7.7');
    expect(() => reader.push(newer, [6])).toThrow(ImsgFrameError);
  });
});

describe('decodeRequest', () => {
  const frame = (type: number, data: Buffer, fd?: number) => ({
    type,
    peerid: 0,
    pid: 1,
    data,
    fd,
  });

  it('decodes ids in host byte order', () => {
    const evpid = Buffer.alloc(8);
    evpid.writeBigUInt64LE(0x0000abcd00000001n, 0);

    expect(
      decodeRequest(frame(PROC_QUEUE.MESSAGE_DELETE, Buffer.from([0xcd, 0xab, 0, 0]))),
    ).toEqual({
      name: 'MESSAGE_DELETE',
      msgid: '0000abcd',
    });
    expect(decodeRequest(frame(PROC_QUEUE.ENVELOPE_LOAD, evpid))).toEqual({
      name: 'ENVELOPE_LOAD',
      evpid: '0000abcd00000001',
    });
  });

  it('rejects an unknown type', () => {
    expect(() => decodeRequest(frame(99, Buffer.alloc(0)))).toThrow(/unknown request type 99/);
    expect(() => decodeRequest(frame(PROC_QUEUE.OK, Buffer.alloc(0)))).toThrow(
      /unknown request type 0/,
    );
  });

  it('rejects an fd on anything but MESSAGE_COMMIT', () => {
    expect(() => decodeRequest(frame(PROC_QUEUE.MESSAGE_FD_R, Buffer.alloc(4), 7))).toThrow(
      /MESSAGE_FD_R request carries an unexpected fd/,
    );
  });

  it('rejects MESSAGE_COMMIT without an fd', () => {
    expect(() => decodeRequest(frame(PROC_QUEUE.MESSAGE_COMMIT, Buffer.alloc(4)))).toThrow(
      /carries no fd/,
    );
  });

  it('rejects a payload of the wrong length', () => {
    expect(() => decodeRequest(frame(PROC_QUEUE.ENVELOPE_DELETE, Buffer.alloc(4)))).toThrow(
      /ENVELOPE_DELETE request has a payload of 4 bytes, expected 8/,
    );
    expect(() => decodeRequest(frame(PROC_QUEUE.CLOSE, Buffer.alloc(1)))).toThrow(ImsgFrameError);
  });
});

describe('replyWalk', () => {
  it('writes r, the evpid and the envelope', () => {
    const reply = replyWalk({ evpid: '0000abcd00000001', data: Buffer.from('version: 3\n') });

    expect(reply.data.readInt32LE(0)).toBe(11);
    expect(reply.data.readBigUInt64LE(4)).toBe(0x0000abcd00000001n);
    expect(reply.data.subarray(12).toString()).toBe('version: 3\n');
  });

  it('writes 0 for again and -1 for end', () => {
    expect(replyWalk('again').data.readInt32LE(0)).toBe(0);
    expect(replyWalk('end').data.readInt32LE(0)).toBe(-1);
  });
});
