import type { DataCase } from '../case-types.js';

const BODY = 'Subject: envelopes\r\n\r\nbody\r\n';

export const envelopeCases: DataCase[] = [
  {
    name: 'envelope create with server-chosen evpid',
    note: 'POST .../envelopes returns 201 with an evpid of the message and its ETag',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        body: 'rcpt: a@example.test\n',
        expect: {
          status: 201,
          json: { evpid: '~evpid', etag: '~etag' },
          save: { x: 'json.evpid', t: 'json.etag' },
        },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$x',
        expect: {
          status: 200,
          body: 'rcpt: a@example.test\n',
          headers: { etag: '$t', 'content-type': 'application/octet-stream' },
        },
      },
      { walk: '/v1/messages/$m/envelopes?include=uncommitted', expect: { evpids: ['$x'] } },
    ],
  },
  {
    name: 'envelope create with client evpid',
    note: 'PUT /v1/envelopes/{evpid} with If-None-Match: * creates the envelope',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-none-match': '*' },
        body: 'rcpt 1',
        expect: { status: 201, json: { evpid: '$e1', etag: '~etag' }, save: { t: 'json.etag' } },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, body: 'rcpt 1', headers: { etag: '$t' } },
      },
    ],
  },
  {
    name: 'envelope create of existing evpid 409',
    note: 'create-if-absent: a second create gets 409 envelope-exists and the bytes stay',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'first' } },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-none-match': '*' },
        body: 'second',
        expect: { status: 409, code: 'envelope-exists' },
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'first' } },
    ],
  },
  {
    name: 'envelope create for absent message 404',
    note: 'an envelope needs its message: 404 message-not-found, and nothing is stored',
    steps: [
      {
        method: 'PUT',
        path: '/v1/envelopes/$h1',
        headers: { 'if-none-match': '*' },
        body: 'x',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m4/envelopes',
        body: 'x',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$h1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
    ],
  },
  {
    name: 'envelope added to committed message is visible at once',
    note: 'a bounce: an envelope created under a committed msgid is in the walk as soon as the 201 returns',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'rcpt 1' }, body: BODY },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e2',
        headers: { 'if-none-match': '*' },
        body: 'bounce',
        expect: 201,
      },
      { walk: '/v1/walk', expect: { evpids: ['$e1', '$e2'], data: { $e2: 'bounce' } } },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        body: 'second bounce',
        expect: { status: 201, save: { x: 'json.evpid' } },
      },
      { walk: '/v1/messages/$m/envelopes', expect: { evpids: ['$e1', '$e2', '$x'] } },
    ],
  },
  {
    name: 'envelope read of absent evpid 404',
    note: 'GET /v1/envelopes/{evpid} of an unknown evpid gets 404 envelope-not-found',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
    ],
  },
  {
    name: 'envelope replace',
    note: 'PUT without If-None-Match replaces the envelope with a new ETag',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'version 1' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, save: { t1: 'header.etag' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        body: 'version 2',
        expect: { status: 200, json: { evpid: '$e1', etag: '~etag' }, save: { t2: 'json.etag' } },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, body: 'version 2', headers: { etag: '$t2' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t1' },
        body: 'version 3',
        expect: { status: 412, code: 'precondition-failed' },
      },
      {
        walk: '/v1/walk',
        expect: { evpids: ['$e1'], data: { $e1: 'version 2' }, etags: { $e1: '$t2' } },
      },
    ],
  },
  {
    name: 'envelope replace of absent evpid 404',
    note: 'a replace never creates: 404 envelope-not-found',
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        body: 'x',
        expect: { status: 404, code: 'envelope-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
    ],
  },
  {
    name: 'envelope If-Match with current ETag',
    note: 'PUT and DELETE with If-Match of the current ETag succeed',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'one', $e2: 'two' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, save: { t: 'header.etag' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t' },
        body: 'one again',
        expect: { status: 200, save: { t2: 'json.etag' } },
      },
      { method: 'DELETE', path: '/v1/envelopes/$e1', headers: { 'if-match': '$t2' }, expect: 204 },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
    ],
  },
  {
    name: 'envelope If-Match with stale ETag 412',
    note: 'two writers with the same ETag never both win: the second gets 412 and changes nothing',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'one' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, save: { t: 'header.etag' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t' },
        body: 'writer A',
        expect: 200,
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t' },
        body: 'writer B',
        expect: { status: 412, code: 'precondition-failed' },
      },
      {
        method: 'DELETE',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t' },
        expect: { status: 412, code: 'precondition-failed' },
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'writer A' } },
    ],
  },
  {
    name: 'envelope If-Match star',
    note: 'If-Match: * means the envelope exists',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'one', $e2: 'two' }, body: BODY },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '*' },
        body: 'star',
        expect: 200,
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'star' } },
      { method: 'DELETE', path: '/v1/envelopes/$e1', headers: { 'if-match': '*' }, expect: 204 },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
    ],
  },
  {
    name: 'envelope malformed If-Match 400',
    note: 'an If-Match that is not an entity tag or * gets 400 invalid-precondition and changes nothing',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'one' }, body: BODY },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '"unterminated' },
        body: 'x',
        expect: { status: 400, code: 'invalid-precondition' },
      },
      {
        method: 'DELETE',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '"unterminated' },
        expect: { status: 400, code: 'invalid-precondition' },
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'one' } },
    ],
  },
  {
    name: 'envelope delete of absent evpid 204',
    note: 'deleting an envelope that is gone succeeds',
    steps: [
      { message: '$m', state: 'open' },
      { method: 'DELETE', path: '/v1/envelopes/$e1', expect: 204 },
      { method: 'DELETE', path: '/v1/envelopes/$h1', expect: 204 },
    ],
  },
  {
    name: 'envelope delete keeps message with other envelopes',
    note: 'deleting one of several envelopes leaves the message and the others',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'one', $e2: 'two' }, body: BODY },
      { method: 'DELETE', path: '/v1/envelopes/$e1', expect: 204 },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { state: 'committed' } },
      },
      { method: 'GET', path: '/v1/messages/$m/body', expect: { status: 200, body: BODY } },
      { walk: '/v1/walk', expect: { evpids: ['$e2'] } },
    ],
  },
  {
    name: 'last envelope delete removes committed message',
    note: 'after delivery smtpd deletes envelopes only: the last delete removes the message and body',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'one', $e2: 'two' }, body: BODY },
      { method: 'DELETE', path: '/v1/envelopes/$e1', expect: 204 },
      { method: 'DELETE', path: '/v1/envelopes/$e2', expect: 204 },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'last envelope delete keeps open message',
    note: 'an open message is still being written: deleting its only envelope keeps it',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'one' }, body: BODY },
      { method: 'DELETE', path: '/v1/envelopes/$e1', expect: 204 },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { state: 'open' } } },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e2',
        headers: { 'if-none-match': '*' },
        body: 'two',
        expect: 201,
      },
      { method: 'POST', path: '/v1/messages/$m/commit', expect: 204 },
      { walk: '/v1/walk', expect: { evpids: ['$e2'] } },
    ],
  },
  {
    name: 'envelope at the size limit',
    note: 'an envelope of exactly limits.maxEnvelopeBytes is stored byte for byte',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'small' }, body: BODY },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e2',
        headers: { 'if-none-match': '*' },
        body: { bytes: 'maxEnvelopeBytes' },
        expect: 201,
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        body: { bytes: 'maxEnvelopeBytes', seed: 1 },
        expect: 200,
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e2',
        expect: { status: 200, body: { bytes: 'maxEnvelopeBytes' } },
      },
      {
        walk: '/v1/walk',
        expect: { evpids: ['$e1', '$e2'], data: { $e1: { bytes: 'maxEnvelopeBytes', seed: 1 } } },
      },
    ],
  },
  {
    name: 'envelope one byte over the limit 413',
    note: 'an envelope of limits.maxEnvelopeBytes + 1 gets 413 envelope-too-large and stores nothing',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'small' } },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e2',
        headers: { 'if-none-match': '*' },
        body: { bytes: 'maxEnvelopeBytes', plus: 1 },
        expect: { status: 413, code: 'envelope-too-large' },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        body: { bytes: 'maxEnvelopeBytes', plus: 1 },
        expect: { status: 413, code: 'envelope-too-large' },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        body: { bytes: 'maxEnvelopeBytes', plus: 1 },
        expect: { status: 413, code: 'envelope-too-large' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e2',
        expect: { status: 404, code: 'envelope-not-found' },
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'small' } },
      { walk: '/v1/messages/$m/envelopes?include=uncommitted', expect: { evpids: ['$e1'] } },
    ],
  },
  {
    name: 'envelope keeps every byte value',
    note: 'envelopes are opaque bytes (smtpd may encrypt or compress them): NUL, CR, LF and 8-bit survive',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: { bytes: 256 } }, body: BODY },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e2',
        headers: { 'if-none-match': '*' },
        body: { bytes: 5000, seed: 3 },
        expect: 201,
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e3',
        headers: { 'if-none-match': '*' },
        body: '',
        expect: 201,
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: { bytes: 256 } } },
      { method: 'GET', path: '/v1/envelopes/$e3', expect: { status: 200, body: '' } },
      {
        walk: '/v1/walk',
        expect: {
          evpids: ['$e1', '$e2', '$e3'],
          data: { $e1: { bytes: 256 }, $e2: { bytes: 5000, seed: 3 }, $e3: '' },
        },
      },
    ],
  },
];
