import { describe, expect, it } from 'vitest';
import { envelopeProblem } from '../src/envelope-check.js';
import { ENVELOPE_BUFFER_BYTES } from '../src/queue-proc.js';

const TEXT = Buffer.from('version: 3\ntype: mta\nrcpt: user@example.org\nerrorline: 421 Größe\n');

describe('envelopeProblem', () => {
  it('accepts a text envelope', () => {
    expect(envelopeProblem(TEXT, { text: true })).toBeNull();
  });

  it('accepts an envelope of exactly the buffer size', () => {
    expect(envelopeProblem(Buffer.alloc(ENVELOPE_BUFFER_BYTES, 'a'), { text: true })).toBeNull();
  });

  it('rejects an envelope one byte over the buffer', () => {
    const problem = envelopeProblem(Buffer.alloc(ENVELOPE_BUFFER_BYTES + 1, 'a'), { text: false });

    expect(problem).toMatch(/7569 bytes, more than smtpd's envelope buffer of 7568 bytes/);
  });

  it('rejects an empty envelope', () => {
    expect(envelopeProblem(Buffer.alloc(0), { text: false })).toMatch(/empty/);
  });

  it('rejects bytes that are not UTF-8', () => {
    expect(envelopeProblem(Buffer.alloc(40, 0xff), { text: true })).toMatch(/not UTF-8/);
  });

  it('rejects a NUL byte', () => {
    expect(envelopeProblem(Buffer.from('version: 3\n\0'), { text: true })).toMatch(/control/);
  });

  it('accepts binary bytes when text is not required', () => {
    expect(envelopeProblem(Buffer.alloc(40, 0xff), { text: false })).toBeNull();
  });
});
