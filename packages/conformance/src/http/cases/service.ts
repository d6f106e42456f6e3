import type { DataCase } from '../case-types.js';

export const serviceCases: DataCase[] = [
  {
    name: 'service info',
    note: 'GET /v1 returns the protocol, its version, features and limits',
    steps: [
      {
        method: 'GET',
        path: '/v1',
        expect: {
          status: 200,
          json: {
            protocol: 'smtpq',
            version: 1,
            store: '~present',
            features: '~array',
            'limits.maxMessageBytes': '~integer',
            'limits.maxEnvelopeBytes': '~integer',
            'limits.maxWalkPageEnvelopes': '~integer',
            'limits.maxWalkPageBytes': '~integer',
            'limits.maxBundleEnvelopes': '~integer',
            uncommittedMaxAgeSeconds: '~integer',
          },
        },
      },
    ],
  },
  {
    name: 'health',
    note: 'GET /v1/health is 200 {"status":"ok"} while the storage works',
    steps: [{ method: 'GET', path: '/v1/health', expect: { status: 200, json: { status: 'ok' } } }],
  },
  {
    name: 'openapi document',
    note: 'GET /v1/openapi.json serves the protocol as OpenAPI',
    steps: [
      {
        method: 'GET',
        path: '/v1/openapi.json',
        expect: { status: 200, json: { openapi: '~present', paths: '~present' } },
      },
    ],
  },
  {
    name: 'unknown route 404',
    note: 'a path outside the protocol gets 404 route-not-found as JSON',
    steps: [
      { method: 'GET', path: '/v1/nothing', expect: { status: 404, code: 'route-not-found' } },
      { method: 'GET', path: '/v2', expect: { status: 404, code: 'route-not-found' } },
      {
        method: 'GET',
        path: '/v1/messages/$m/other',
        expect: { status: 404, code: 'route-not-found' },
      },
      { method: 'GET', path: '/', expect: { status: 404, code: 'route-not-found' } },
    ],
  },
  {
    name: 'wrong method 405',
    note: 'a known path with a method it lacks gets 405 method-not-allowed as JSON',
    steps: [
      {
        method: 'PATCH',
        path: '/v1/messages/$m',
        expect: { status: 405, code: 'method-not-allowed' },
      },
      { method: 'DELETE', path: '/v1/walk', expect: { status: 405, code: 'method-not-allowed' } },
      {
        method: 'POST',
        path: '/v1/envelopes/$e1',
        expect: { status: 405, code: 'method-not-allowed' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/commit',
        expect: { status: 405, code: 'method-not-allowed' },
      },
      { method: 'GET', path: '/v1', expect: 200 },
    ],
  },
];
