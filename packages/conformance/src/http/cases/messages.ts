import type { DataCase } from '../case-types.js';

const BODY = 'Subject: conformance\r\n\r\nhello\r\n';

export const messageCases: DataCase[] = [
  {
    name: 'message create with server-chosen msgid',
    note: 'POST /v1/messages returns 201 with a new msgid, open',
    steps: [
      {
        method: 'POST',
        path: '/v1/messages',
        expect: { status: 201, json: { msgid: '~msgid' }, save: { x: 'json.msgid' } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$x',
        expect: {
          status: 200,
          json: {
            msgid: '$x',
            state: 'open',
            bodySize: null,
            bodySha256: null,
            createdAt: '~present',
          },
        },
      },
    ],
  },
  {
    name: 'message create with client msgid',
    note: 'PUT /v1/messages/{msgid} creates the message if absent',
    steps: [
      { method: 'PUT', path: '/v1/messages/$m', expect: { status: 201, json: { msgid: '$m' } } },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { msgid: '$m', state: 'open', bodySize: null } },
      },
    ],
  },
  {
    name: 'message create of existing msgid 409',
    note: 'create-if-absent: a second create of one msgid gets 409 message-exists and changes nothing',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'rcpt 1' }, body: BODY },
      { method: 'PUT', path: '/v1/messages/$m', expect: { status: 409, code: 'message-exists' } },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { state: 'committed', bodySize: Buffer.byteLength(BODY) } },
      },
      { walk: '/v1/walk', expect: { evpids: ['$e1'] } },
    ],
  },
  {
    name: 'message info of absent message 404',
    note: 'GET /v1/messages/{msgid} of an unknown msgid gets 404 message-not-found',
    steps: [
      {
        method: 'GET',
        path: '/v1/messages/$m4',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'message delete of absent message 204',
    note: 'deletes are idempotent: deleting what is gone succeeds',
    steps: [{ method: 'DELETE', path: '/v1/messages/$m4', expect: 204 }],
  },
  {
    name: 'message delete cascades',
    note: 'deleting a message deletes its envelopes and its body',
    steps: [
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'rcpt 1', $e2: 'rcpt 2' },
        body: BODY,
      },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'rcpt 1' }, body: BODY },
      { method: 'DELETE', path: '/v1/messages/$m', expect: 204 },
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
        method: 'GET',
        path: '/v1/envelopes/$e2',
        expect: { status: 404, code: 'envelope-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        expect: { status: 404, code: 'message-not-found' },
      },
      { walk: '/v1/walk', expect: { evpids: ['$f1'] } },
      { method: 'DELETE', path: '/v1/messages/$m', expect: 204 },
    ],
  },
  {
    name: 'open message delete cascades',
    note: 'deleting an open message (a rolled-back SMTP transaction) deletes its envelopes and body',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'rcpt 1' }, body: BODY },
      { method: 'DELETE', path: '/v1/messages/$m', expect: 204 },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 404, code: 'envelope-not-found' },
      },
      { method: 'PUT', path: '/v1/messages/$m', expect: 201 },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { state: 'open', bodySize: null } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/envelopes?include=uncommitted',
        expect: { status: 200, json: { envelopes: [], end: true, next: null } },
      },
    ],
  },
  {
    name: 'message list by state',
    note: 'GET /v1/messages lists messages, filtered by state=open or state=committed',
    needs: ['message-list'],
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'rcpt 1' } },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'rcpt 1' }, body: BODY },
      { list: 'open', expect: { msgids: ['$m'] } },
      { list: 'committed', expect: { msgids: ['$m2'] } },
      { list: 'any', limit: 1, expect: { msgids: ['$m', '$m2'] } },
    ],
  },
  {
    name: 'message list bad query 400',
    note: 'a bad limit or state of GET /v1/messages gets 400',
    needs: ['message-list'],
    steps: [
      {
        method: 'GET',
        path: '/v1/messages?limit=0',
        expect: { status: 400, code: 'invalid-limit' },
      },
      {
        method: 'GET',
        path: '/v1/messages?limit=$maxpage:plus1',
        expect: { status: 400, code: 'invalid-limit' },
      },
      {
        method: 'GET',
        path: '/v1/messages?state=sent',
        expect: { status: 400, code: 'invalid-request' },
      },
      {
        method: 'GET',
        path: '/v1/messages?cursor=made-up',
        expect: { status: 400, code: 'invalid-cursor' },
      },
    ],
  },
  {
    name: 'commit makes envelopes visible at once',
    note: 'envelopes of an open message are invisible to the walk; the commit shows all of them',
    steps: [
      {
        message: '$m',
        state: 'open',
        envelopes: { $e1: 'rcpt 1', $e2: 'rcpt 2', $e3: 'rcpt 3' },
        body: BODY,
      },
      { walk: '/v1/walk', expect: { evpids: [] } },
      {
        method: 'GET',
        path: '/v1/messages/$m/envelopes',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        walk: '/v1/messages/$m/envelopes?include=uncommitted',
        expect: { evpids: ['$e1', '$e2', '$e3'] },
      },
      { method: 'POST', path: '/v1/messages/$m/commit', expect: 204 },
      {
        walk: '/v1/walk',
        limit: 1,
        expect: { evpids: ['$e1', '$e2', '$e3'], data: { $e2: 'rcpt 2' } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { state: 'committed' } },
      },
    ],
  },
  {
    name: 'walk order ignores commit order',
    note: 'the walk is in evpid order, whatever order messages were committed in',
    steps: [
      { message: '$m3', state: 'committed', envelopes: { $g2: 'g2', $g1: 'g1' }, body: BODY },
      { message: '$m', state: 'committed', envelopes: { $e1: 'e1' }, body: BODY },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'f1', $f3: 'f3' }, body: BODY },
      { walk: '/v1/walk', limit: 2, expect: { evpids: ['$e1', '$f1', '$f3', '$g1', '$g2'] } },
    ],
  },
  {
    name: 'commit twice 204',
    note: 'commits are idempotent: committing a committed message succeeds',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'rcpt 1' }, body: BODY },
      { method: 'POST', path: '/v1/messages/$m/commit', expect: 204 },
      { walk: '/v1/walk', expect: { evpids: ['$e1'] } },
    ],
  },
  {
    name: 'commit without body 409',
    note: 'a commit needs a stored body: 409 body-missing, and the message stays open',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'rcpt 1' } },
      {
        method: 'POST',
        path: '/v1/messages/$m/commit',
        expect: { status: 409, code: 'body-missing' },
      },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { state: 'open' } } },
      { walk: '/v1/walk', expect: { evpids: [] } },
    ],
  },
  {
    name: 'commit of absent message 404',
    note: 'POST .../commit of an unknown msgid gets 404 message-not-found',
    steps: [
      {
        method: 'POST',
        path: '/v1/messages/$m4/commit',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'commit of message without envelopes',
    note: 'a message with a body and no envelope can be committed, and shows nothing in the walk',
    steps: [
      { message: '$m', state: 'committed', body: BODY },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 200, json: { state: 'committed' } },
      },
      { walk: '/v1/walk', expect: { evpids: [] } },
    ],
  },
];
