import type { DataCase } from '../case-types.js';

const BODY = 'Subject: walk\r\n\r\nbody\r\n';

export const walkCases: DataCase[] = [
  {
    name: 'walk pages in evpid order to an explicit end',
    note: 'each envelope once, ascending; next is null exactly on the last page, which has end true',
    steps: [
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'e1', $e2: 'e2', $e3: 'e3' },
        body: BODY,
      },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'f1', $f2: 'f2' }, body: BODY },
      { message: '$m3', state: 'open', envelopes: { $g1: 'g1' }, body: BODY },
      { walk: '/v1/walk', limit: 1, expect: { evpids: ['$e1', '$e2', '$e3', '$f1', '$f2'] } },
      { walk: '/v1/walk', limit: 2, expect: { evpids: ['$e1', '$e2', '$e3', '$f1', '$f2'] } },
      {
        walk: '/v1/walk',
        expect: { evpids: ['$e1', '$e2', '$e3', '$f1', '$f2'], data: { $f2: 'f2' } },
      },
    ],
  },
  {
    name: 'walk of one message',
    note: 'GET /v1/messages/{msgid}/envelopes walks one committed message page by page',
    needs: ['message-walk'],
    steps: [
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'e1', $e2: 'e2', $e3: 'e3' },
        body: BODY,
      },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'f1' }, body: BODY },
      {
        walk: '/v1/messages/$m/envelopes',
        limit: 2,
        expect: { evpids: ['$e1', '$e2', '$e3'], data: { $e3: 'e3' } },
      },
      { walk: '/v1/messages/$m2/envelopes', limit: 1, expect: { evpids: ['$f1'] } },
    ],
  },
  {
    name: 'walk of open message 404',
    note: 'a message walk of an open message gets 404 message-not-found unless include=uncommitted',
    needs: ['message-walk'],
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'e1', $e2: 'e2' } },
      {
        method: 'GET',
        path: '/v1/messages/$m/envelopes',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        walk: '/v1/messages/$m/envelopes?include=uncommitted',
        limit: 1,
        expect: { evpids: ['$e1', '$e2'] },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m4/envelopes',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m4/envelopes?include=uncommitted',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'walk entries carry the ETag of a read',
    note: "a walk entry's etag is the ETag GET returns, so If-Match can follow a walk",
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'e1', $e2: 'e2' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, save: { t1: 'header.etag' } },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e2',
        expect: { status: 200, save: { t2: 'header.etag' } },
      },
      { walk: '/v1/walk', expect: { evpids: ['$e1', '$e2'], etags: { $e1: '$t1', $e2: '$t2' } } },
    ],
  },
  {
    name: 'walk bad limit 400',
    note: 'limit must be an integer from 1 to limits.maxWalkPageEnvelopes: 400 invalid-limit otherwise',
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'e1' }, body: BODY },
      { method: 'GET', path: '/v1/walk?limit=0', expect: { status: 400, code: 'invalid-limit' } },
      { method: 'GET', path: '/v1/walk?limit=-1', expect: { status: 400, code: 'invalid-limit' } },
      { method: 'GET', path: '/v1/walk?limit=abc', expect: { status: 400, code: 'invalid-limit' } },
      { method: 'GET', path: '/v1/walk?limit=1.5', expect: { status: 400, code: 'invalid-limit' } },
      { method: 'GET', path: '/v1/walk?limit=', expect: { status: 400, code: 'invalid-limit' } },
      {
        method: 'GET',
        path: '/v1/walk?limit=$maxpage:plus1',
        expect: { status: 400, code: 'invalid-limit' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/envelopes?limit=0',
        expect: { status: 400, code: 'invalid-limit' },
      },
      { method: 'GET', path: '/v1/walk?limit=$maxpage', expect: 200 },
    ],
  },
  {
    name: 'walk tampered cursor 400',
    note: 'a changed, cut or made-up cursor gets 400 invalid-cursor, never a restart or an end',
    steps: [
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'e1', $e2: 'e2', $e3: 'e3' },
        body: BODY,
      },
      {
        method: 'GET',
        path: '/v1/walk?limit=1',
        expect: { status: 200, json: { end: false, next: '~cursor' }, save: { c: 'json.next' } },
      },
      {
        method: 'GET',
        path: '/v1/walk?cursor=$c:tampered',
        expect: { status: 400, code: 'invalid-cursor' },
      },
      {
        method: 'GET',
        path: '/v1/walk?cursor=$c:cut',
        expect: { status: 400, code: 'invalid-cursor' },
      },
      {
        method: 'GET',
        path: '/v1/walk?cursor=made-up',
        expect: { status: 400, code: 'invalid-cursor' },
      },
      { method: 'GET', path: '/v1/walk?cursor=', expect: { status: 400, code: 'invalid-cursor' } },
      { method: 'GET', path: '/v1/walk?cursor=$c', expect: 200 },
    ],
  },
  {
    name: 'walk cursor of another walk 400',
    note: "a cursor belongs to its walk: the queue walk and a message walk do not take each other's",
    needs: ['message-walk'],
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'e1', $e2: 'e2' }, body: BODY },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'f1', $f2: 'f2' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/walk?limit=1',
        expect: { status: 200, save: { c: 'json.next' } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/envelopes?limit=1',
        expect: { status: 200, save: { d: 'json.next' } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/envelopes?cursor=$c',
        expect: { status: 400, code: 'invalid-cursor' },
      },
      {
        method: 'GET',
        path: '/v1/walk?cursor=$d',
        expect: { status: 400, code: 'invalid-cursor' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m2/envelopes?cursor=$d',
        expect: { status: 400, code: 'invalid-cursor' },
      },
    ],
  },
  {
    name: 'second frontend serves the same queue',
    note: 'a write acknowledged by one frontend is read at once through another of the same store',
    needs: ['url2'],
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'e1' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, save: { t: 'header.etag' } },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        via: 'url2',
        expect: { status: 200, body: 'e1', headers: { etag: '$t' } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        via: 'url2',
        expect: { status: 200, body: BODY },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        via: 'url2',
        headers: { 'if-match': '$t' },
        body: 'e1 via url2',
        expect: 200,
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'e1 via url2' } },
      { walk: '/v1/walk', via: 'url2', expect: { evpids: ['$e1'], data: { $e1: 'e1 via url2' } } },
    ],
  },
];
