import { sha256Hex } from '../../bytes.js';
import type { DataCase } from '../case-types.js';

const FIRST = 'Subject: first\r\n\r\nfirst body\r\n';
const SECOND = 'Subject: second\r\n\r\nsecond body, longer than the first\r\n';

export const bodyCases: DataCase[] = [
  {
    name: 'body upload and read back',
    note: 'PUT .../body stores the bytes; GET returns them with Content-Digest and Content-Length',
    steps: [
      { message: '$m', state: 'open' },
      { method: 'PUT', path: '/v1/messages/$m/body', body: FIRST, expect: 204 },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: {
          status: 200,
          body: FIRST,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(Buffer.byteLength(FIRST)),
            'content-digest': `sha-256=:${Buffer.from(sha256Hex(Buffer.from(FIRST)), 'hex').toString('base64')}:`,
          },
        },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: {
          status: 200,
          json: { bodySize: Buffer.byteLength(FIRST), bodySha256: sha256Hex(Buffer.from(FIRST)) },
        },
      },
    ],
  },
  {
    name: 'body ignores Content-Type',
    note: 'the server stores the bytes as they came, whatever the request Content-Type says',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: { bytes: 4096, seed: 5 },
        expect: 204,
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 200, body: { bytes: 4096, seed: 5 } },
      },
    ],
  },
  {
    name: 'body replaced while open',
    note: 'a second upload replaces the body of an open message',
    steps: [
      { message: '$m', state: 'open', body: FIRST },
      { method: 'PUT', path: '/v1/messages/$m/body', body: SECOND, expect: 204 },
      { method: 'POST', path: '/v1/messages/$m/commit', expect: 204 },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: SECOND } },
    ],
  },
  {
    name: 'body upload after commit 409',
    note: 'the body of a committed message never changes: 409 message-committed',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'rcpt 1' }, body: FIRST },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: SECOND,
        expect: { status: 409, code: 'message-committed' },
      },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: FIRST } },
    ],
  },
  {
    name: 'empty body',
    note: 'a body of 0 bytes is a stored body: it commits and reads back empty',
    steps: [
      { message: '$m', state: 'open' },
      { method: 'PUT', path: '/v1/messages/$m/body', body: '', expect: 204 },
      { method: 'POST', path: '/v1/messages/$m/commit', expect: 204 },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 200, body: '', headers: { 'content-length': '0' } },
      },
    ],
  },
  {
    name: 'body of message without body 404',
    note: 'GET .../body before any upload gets 404 body-not-found',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 404, code: 'body-not-found' },
      },
    ],
  },
  {
    name: 'body of absent message 404',
    note: 'GET and PUT .../body of an unknown msgid get 404 message-not-found',
    steps: [
      {
        method: 'GET',
        path: '/v1/messages/$m4/body',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m4/body',
        body: FIRST,
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m4',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'body without digest 400',
    note: 'an upload without Content-Digest gets 400 missing-digest and stores nothing',
    steps: [
      { message: '$m', state: 'open', body: FIRST },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: SECOND,
        digest: 'none',
        expect: { status: 400, code: 'missing-digest' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: SECOND,
        digest: 'md5=:rL0Y20zC+Fzt72VPzMSk2A==:',
        expect: { status: 400, code: 'missing-digest' },
      },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: FIRST } },
    ],
  },
  {
    name: 'body with malformed digest 400',
    note: 'a Content-Digest whose sha-256 member is not 32 bytes of base64 gets 400 invalid-digest',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: FIRST,
        digest: 'sha-256=abc',
        expect: { status: 400, code: 'invalid-digest' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: FIRST,
        digest: 'sha-256=:AAAA:',
        expect: { status: 400, code: 'invalid-digest' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: FIRST,
        digest: 'sha-256=:not base64!:',
        expect: { status: 400, code: 'invalid-digest' },
      },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { bodySize: null } } },
    ],
  },
  {
    name: 'body digest mismatch 400',
    note: 'an upload whose bytes do not match Content-Digest gets 400 digest-mismatch; the previous body stays',
    steps: [
      { message: '$m', state: 'open', body: FIRST },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: SECOND,
        digest: 'wrong',
        expect: { status: 400, code: 'digest-mismatch' },
      },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: FIRST } },
      { method: 'POST', path: '/v1/messages/$m/commit', expect: 204 },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: FIRST } },
    ],
  },
  {
    name: 'body digest mismatch on first upload 400',
    note: 'a failed first upload leaves the message without a body, so a commit gets body-missing',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'rcpt 1' } },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: { bytes: 100_000 },
        digest: 'wrong',
        expect: { status: 400, code: 'digest-mismatch' },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/commit',
        expect: { status: 409, code: 'body-missing' },
      },
    ],
  },
  {
    name: 'body at the size limit',
    note: 'a body of exactly limits.maxMessageBytes is accepted and read back byte for byte',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: { bytes: 'maxMessageBytes', seed: 1 },
        expect: 204,
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 200, body: { bytes: 'maxMessageBytes', seed: 1 } },
      },
    ],
  },
  {
    name: 'body one byte over the limit 413',
    note: 'a body of limits.maxMessageBytes + 1 gets 413 body-too-large and stores nothing',
    steps: [
      { message: '$m', state: 'open', body: FIRST },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        body: { bytes: 'maxMessageBytes', plus: 1 },
        expect: { status: 413, code: 'body-too-large' },
      },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: FIRST } },
    ],
  },
  {
    name: 'chunked body one byte over the limit 413',
    note: 'a chunked body is cut off at the limit with 413 body-too-large and nothing stored',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        chunked: true,
        body: { bytes: 'maxMessageBytes', plus: 1 },
        expect: { status: 413, code: 'body-too-large' },
      },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { bodySize: null } } },
    ],
  },
  {
    name: 'chunked body upload',
    note: 'a body sent with chunked transfer coding is stored like one with a Content-Length',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/messages/$m/body',
        chunked: true,
        body: { bytes: 300_000, seed: 8 },
        expect: 204,
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 200, body: { bytes: 300_000, seed: 8 } },
      },
    ],
  },
];
