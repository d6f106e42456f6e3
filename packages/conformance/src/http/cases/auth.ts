import type { DataCase } from '../case-types.js';

export const authCases: DataCase[] = [
  {
    name: 'auth missing token 401',
    note: 'with a token configured, a request without Authorization gets 401 unauthorized and changes nothing',
    needs: ['token'],
    steps: [
      { method: 'GET', path: '/v1', auth: 'none', expect: { status: 401, code: 'unauthorized' } },
      {
        method: 'GET',
        path: '/v1/openapi.json',
        auth: 'none',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'GET',
        path: '/v1/walk',
        auth: 'none',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        auth: 'none',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'auth wrong token 401',
    note: 'a wrong bearer token gets 401 unauthorized on reads and writes, and changes nothing',
    needs: ['token'],
    steps: [
      { message: '$m', state: 'committed', envelopes: { $e1: 'rcpt' }, body: 'body' },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        auth: 'wrong',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        auth: 'wrong',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'DELETE',
        path: '/v1/messages/$m',
        auth: 'wrong',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'DELETE',
        path: '/v1/envelopes/$e1',
        auth: 'wrong',
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        auth: 'wrong',
        body: 'changed',
        expect: { status: 401, code: 'unauthorized' },
      },
      { method: 'GET', path: '/v1/envelopes/$e1', expect: { status: 200, body: 'rcpt' } },
    ],
  },
  {
    name: 'auth other schemes 401',
    note: 'only Authorization: Bearer TOKEN opens the API',
    needs: ['token'],
    steps: [
      {
        method: 'GET',
        path: '/v1',
        auth: 'none',
        headers: { authorization: 'Basic dXNlcjpwYXNz' },
        expect: { status: 401, code: 'unauthorized' },
      },
      {
        method: 'GET',
        path: '/v1',
        auth: 'none',
        headers: { authorization: 'Bearer' },
        expect: { status: 401, code: 'unauthorized' },
      },
    ],
  },
  {
    name: 'auth health is open',
    note: 'GET /v1/health needs no token, so load balancers can probe it',
    needs: ['token'],
    steps: [
      {
        method: 'GET',
        path: '/v1/health',
        auth: 'none',
        expect: { status: 200, json: { status: 'ok' } },
      },
    ],
  },
];
