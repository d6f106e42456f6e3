import { sha256Hex } from '../../bytes.js';
import type { DataCase, Step } from '../case-types.js';

const BODY = 'Subject: bundle\r\n\r\none round trip\r\n';

/** Sends a malformed bundle, which must get 400 invalid-bundle and leave no message. */
function malformed(bundle: string): Step[] {
  return [
    {
      method: 'PUT',
      path: '/v1/messages/$m/bundle',
      body: bundle,
      expect: { status: 400, code: 'invalid-bundle' },
    },
    { method: 'GET', path: '/v1/messages/$m', expect: { status: 404, code: 'message-not-found' } },
  ];
}

export const bundleCases: DataCase[] = [
  {
    name: 'bundle creates and commits a message',
    note: 'PUT .../bundle is the whole SMTP transaction: create, envelopes, body and commit',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: {
          bundle: {
            envelopes: [
              ['$e1', 'rcpt 1'],
              ['$e2', { bytes: 256 }],
            ],
            body: BODY,
          },
        },
        expect: 204,
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: {
          status: 200,
          json: {
            state: 'committed',
            bodySize: Buffer.byteLength(BODY),
            bodySha256: sha256Hex(Buffer.from(BODY)),
          },
        },
      },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: BODY } },
      {
        walk: '/v1/walk',
        expect: { evpids: ['$e1', '$e2'], data: { $e1: 'rcpt 1', $e2: { bytes: 256 } } },
      },
    ],
  },
  {
    name: 'bundle without envelopes',
    note: 'a bundle holds 0 or more envelopes',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: { bundle: { envelopes: [], body: { bytes: 70_000 } } },
        expect: 204,
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 200, body: { bytes: 70_000 } },
      },
    ],
  },
  {
    name: 'bundle of existing message 409',
    note: 'the bundle creates its message if absent: 409 message-exists, and the message stays as it was',
    needs: ['bundle'],
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'kept' } },
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: { bundle: { envelopes: [['$e2', 'new']], body: BODY } },
        expect: { status: 409, code: 'message-exists' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { state: 'open', bodySize: null } },
      },
      { walk: '/v1/messages/$m/envelopes?include=uncommitted', expect: { evpids: ['$e1'] } },
    ],
  },
  {
    name: 'bundle malformed head 400',
    note: 'a bundle with a wrong magic line or without its B line gets 400 invalid-bundle and leaves nothing',
    needs: ['bundle'],
    steps: [
      ...malformed('smtpq-bundle 2\nB 4\nbody'),
      ...malformed('B 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 3\nabc\n'),
      ...malformed('smtpq-bundle 1\nX 4\nbody'),
      ...malformed(''),
    ],
  },
  {
    name: 'bundle malformed envelopes 400',
    note: 'a bad evpid, a foreign or repeated evpid, or a wrong envelope length gets 400 invalid-bundle',
    needs: ['bundle'],
    steps: [
      ...malformed('smtpq-bundle 1\nE $f1 3\nabc\nB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 3\nabc\nE $e1 3\nabc\nB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1:upper 3\nabc\nB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e0 3\nabc\nB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 10\nabc\nB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 3\nabcXB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 03\nabc\nB 4\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 -3\nabc\nB 4\nbody'),
    ],
  },
  {
    name: 'bundle malformed body 400',
    note: 'a body shorter or longer than its B line, or a bad length, gets 400 invalid-bundle',
    needs: ['bundle'],
    steps: [
      ...malformed('smtpq-bundle 1\nE $e1 3\nabc\nB 10\nbody'),
      ...malformed('smtpq-bundle 1\nE $e1 3\nabc\nB 4\nbody and more'),
      ...malformed('smtpq-bundle 1\nB 04\nbody'),
      ...malformed('smtpq-bundle 1\nB four\nbody'),
    ],
  },
  {
    name: 'bundle without digest 400',
    note: 'a bundle needs Content-Digest over its whole content: 400 missing-digest, nothing stored',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        digest: 'none',
        body: { bundle: { envelopes: [['$e1', 'rcpt']], body: BODY } },
        expect: { status: 400, code: 'missing-digest' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'bundle digest mismatch 400',
    note: 'a bundle whose bytes do not match Content-Digest gets 400 digest-mismatch and leaves nothing',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        digest: 'wrong',
        body: { bundle: { envelopes: [['$e1', 'rcpt']], body: { bytes: 200_000 } } },
        expect: { status: 400, code: 'digest-mismatch' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: { bundle: { envelopes: [['$e1', 'rcpt']], body: BODY } },
        expect: 204,
      },
    ],
  },
  {
    name: 'bundle envelope at the size limit',
    note: 'an envelope of exactly limits.maxEnvelopeBytes is accepted in a bundle',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: { bundle: { envelopes: [['$e1', { bytes: 'maxEnvelopeBytes' }]], body: BODY } },
        expect: 204,
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, body: { bytes: 'maxEnvelopeBytes' } },
      },
    ],
  },
  {
    name: 'bundle envelope one byte over the limit 413',
    note: 'limits apply per envelope in a bundle: 413 envelope-too-large, and the message is removed',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: {
          bundle: {
            envelopes: [
              ['$e1', 'rcpt'],
              ['$e2', { bytes: 'maxEnvelopeBytes', plus: 1 }],
            ],
            body: BODY,
          },
        },
        expect: { status: 413, code: 'envelope-too-large' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
    ],
  },
  {
    name: 'bundle body one byte over the limit 413',
    note: 'the body limit applies to a bundle: 413 body-too-large before any body byte is stored',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: {
          bundle: { envelopes: [['$e1', 'rcpt']], body: { bytes: 'maxMessageBytes', plus: 1 } },
        },
        expect: { status: 413, code: 'body-too-large' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
];
