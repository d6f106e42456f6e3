import type { DataCase } from '../case-types.js';

const BODY = 'Subject: retry\r\n\r\nbody\r\n';

export const idempotencyCases: DataCase[] = [
  {
    name: 'repeated message create replays its response',
    note: 'a create repeated with its Idempotency-Key gets the same 201; another key or none gets 409',
    needs: ['idempotency'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': '$k1' },
        expect: { status: 201, json: { msgid: '$m' } },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': '$k1' },
        expect: { status: 201, json: { msgid: '$m' } },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': '$k2' },
        expect: { status: 409, code: 'message-exists' },
      },
      { method: 'PUT', path: '/v1/messages/$m', expect: { status: 409, code: 'message-exists' } },
    ],
  },
  {
    name: 'repeated server-chosen message create finds its msgid',
    note: 'POST /v1/messages with an Idempotency-Key returns the msgid of its first attempt',
    needs: ['idempotency'],
    steps: [
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'idempotency-key': '$k1' },
        expect: { status: 201, save: { x: 'json.msgid' } },
      },
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'idempotency-key': '$k1' },
        expect: { status: 201, json: { msgid: '$x' } },
      },
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'idempotency-key': '$k2' },
        expect: { status: 201, save: { y: 'json.msgid' } },
      },
      { method: 'GET', path: '/v1/messages/$x', expect: { status: 200, json: { state: 'open' } } },
    ],
  },
  {
    name: 'repeated envelope create replays its response',
    note: 'an envelope create repeated with its key gets the same 201 and ETag; another key gets 409',
    needs: ['idempotency'],
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-none-match': '*', 'idempotency-key': '$k1' },
        body: 'rcpt 1',
        expect: { status: 201, save: { t: 'json.etag' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-none-match': '*', 'idempotency-key': '$k1' },
        body: 'rcpt 1',
        expect: { status: 201, json: { evpid: '$e1', etag: '$t' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-none-match': '*', 'idempotency-key': '$k2' },
        body: 'rcpt 1',
        expect: { status: 409, code: 'envelope-exists' },
      },
    ],
  },
  {
    name: 'repeated server-chosen envelope create finds its evpid',
    note: 'POST .../envelopes with an Idempotency-Key returns the evpid of its first attempt',
    needs: ['idempotency'],
    steps: [
      { message: '$m', state: 'open' },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        headers: { 'idempotency-key': '$k1' },
        body: 'rcpt',
        expect: { status: 201, save: { x: 'json.evpid' } },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        headers: { 'idempotency-key': '$k1' },
        body: 'rcpt',
        expect: { status: 201, json: { evpid: '$x' } },
      },
      { walk: '/v1/messages/$m/envelopes?include=uncommitted', expect: { evpids: ['$x'] } },
    ],
  },
  {
    name: 'repeated envelope replace replays its response',
    note: 'a replace whose If-Match is stale but whose current version it wrote returns 200 with that ETag',
    needs: ['idempotency'],
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'version 1' }, body: BODY },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, save: { t0: 'header.etag' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t0', 'idempotency-key': '$k1' },
        body: 'version 2',
        expect: { status: 200, save: { t1: 'json.etag' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t0', 'idempotency-key': '$k1' },
        body: 'version 2',
        expect: { status: 200, json: { etag: '$t1' } },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { 'if-match': '$t0', 'idempotency-key': '$k2' },
        body: 'version 3',
        expect: { status: 412, code: 'precondition-failed' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, body: 'version 2', headers: { etag: '$t1' } },
      },
    ],
  },
  {
    name: 'repeated bundle replays its response',
    note: 'a bundle repeated with its key gets 204 again; another key or none gets 409 message-exists',
    needs: ['idempotency', 'bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        headers: { 'idempotency-key': '$k1' },
        body: { bundle: { envelopes: [['$e1', 'rcpt 1']], body: BODY } },
        expect: 204,
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        headers: { 'idempotency-key': '$k1' },
        body: { bundle: { envelopes: [['$e1', 'rcpt 1']], body: BODY } },
        expect: 204,
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        headers: { 'idempotency-key': '$k2' },
        body: { bundle: { envelopes: [['$e1', 'rcpt 1']], body: BODY } },
        expect: { status: 409, code: 'message-exists' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        body: { bundle: { envelopes: [['$e1', 'rcpt 1']], body: BODY } },
        expect: { status: 409, code: 'message-exists' },
      },
      { walk: '/v1/walk', expect: { evpids: ['$e1'], data: { $e1: 'rcpt 1' } } },
    ],
  },
  {
    name: 'repeated commit and delete succeed',
    note: 'commits and deletes are idempotent by nature, with or without a key',
    steps: [
      { message: '$m', state: 'open', envelopes: { $e1: 'rcpt 1' }, body: BODY },
      {
        method: 'POST',
        path: '/v1/messages/$m/commit',
        headers: { 'idempotency-key': '$k1' },
        expect: 204,
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/commit',
        headers: { 'idempotency-key': '$k1' },
        expect: 204,
      },
      { method: 'DELETE', path: '/v1/envelopes/$e1', expect: 204 },
      { method: 'DELETE', path: '/v1/envelopes/$e1', expect: 204 },
      { method: 'DELETE', path: '/v1/messages/$m', expect: 204 },
    ],
  },
  {
    name: 'invalid Idempotency-Key 400',
    note: 'a key must be 1 to 128 of letters, digits and -._~: 400 invalid-idempotency-key, nothing created',
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': 'a'.repeat(129) },
        expect: { status: 400, code: 'invalid-idempotency-key' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': 'has space' },
        expect: { status: 400, code: 'invalid-idempotency-key' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': 'slash/key' },
        expect: { status: 400, code: 'invalid-idempotency-key' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': '' },
        expect: { status: 400, code: 'invalid-idempotency-key' },
      },
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'idempotency-key': 'caf\u00e9' },
        expect: { status: 400, code: 'invalid-idempotency-key' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'idempotency-key': `A-z.0_9~${'k'.repeat(120)}` },
        expect: 201,
      },
    ],
  },
];
