import type { DataCase, RequestStep } from '../case-types.js';

const BODY = 'Subject: pool\r\n\r\nbody\r\n';

/** Node context of `$n1` with lease `$l1`, and so on. */
const N1 = { 'smtpq-node': '$n1', 'smtpq-lease': '$l1' };
const N2 = { 'smtpq-node': '$n2', 'smtpq-lease': '$l2' };

/** Acquires the lease of node `$nX` for a minute and keeps its id as `$lX`. */
function acquire(node: 'n1' | 'n2', lease: string): RequestStep {
  return {
    method: 'PUT',
    path: `/v1/nodes/$${node}/lease`,
    body: '{"ttlMs": 60000}',
    expect: {
      status: 201,
      json: { node: `$${node}`, leaseId: '~leaseid', ttlMs: 60000, remainingMs: '~integer' },
      save: { [lease]: 'json.leaseId' },
    },
  };
}

export const poolCases: DataCase[] = [
  {
    name: 'pool lease of a live node is held',
    note: 'a second acquire of a live node name gets 409 lease-held; two node names coexist',
    needs: ['pool'],
    steps: [
      acquire('n1', 'l1'),
      {
        method: 'PUT',
        path: '/v1/nodes/$n1/lease',
        body: '{"ttlMs": 60000}',
        expect: {
          status: 409,
          code: 'lease-held',
          json: { 'error.details.remainingMs': '~integer' },
        },
      },
      acquire('n2', 'l2'),
      {
        method: 'PUT',
        path: '/v1/nodes/$n1/lease',
        body: '{"ttlMs": 30000, "leaseId": "$l1"}',
        expect: { status: 200, json: { node: '$n1', leaseId: '$l1', ttlMs: 30000 } },
      },
      { method: 'GET', path: '/v1/walk?limit=1', headers: N1, expect: 200 },
      { method: 'GET', path: '/v1/walk?limit=1', headers: N2, expect: 200 },
    ],
  },
  {
    name: 'pool lease request checks',
    note: 'bad ttlMs, bad JSON, a bad node name or a stale lease id get a 4xx and change nothing',
    needs: ['pool'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/nodes/$n1/lease',
        body: '{"ttlMs": 999}',
        expect: { status: 400, code: 'invalid-request' },
      },
      {
        method: 'PUT',
        path: '/v1/nodes/$n1/lease',
        body: '{"ttlMs": 600001}',
        expect: { status: 400, code: 'invalid-request' },
      },
      {
        method: 'PUT',
        path: '/v1/nodes/$n1/lease',
        body: 'ttlMs=5000',
        expect: { status: 400, code: 'invalid-request' },
      },
      {
        method: 'PUT',
        path: '/v1/nodes/$n1:upper/lease',
        body: '{"ttlMs": 5000}',
        expect: { status: 400, code: 'invalid-node-name' },
      },
      {
        method: 'PUT',
        path: '/v1/nodes/$n1/lease',
        body: '{"ttlMs": 5000, "leaseId": "0123456789abcdef0123456789abcdef"}',
        expect: { status: 409, code: 'lease-lost' },
      },
      acquire('n1', 'l1'),
      {
        method: 'DELETE',
        path: '/v1/nodes/$n1/lease?leaseId=0123456789abcdef0123456789abcdef',
        expect: { status: 409, code: 'lease-lost' },
      },
      { method: 'GET', path: '/v1/walk?limit=1', headers: N1, expect: 200 },
    ],
  },
  {
    name: 'pool node headers come in pairs',
    note: 'Smtpq-Node without Smtpq-Lease (or the reverse) gets 400 invalid-node-header',
    needs: ['pool'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'smtpq-node': '$n1' },
        expect: { status: 400, code: 'invalid-node-header' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'smtpq-lease': '0123456789abcdef0123456789abcdef' },
        expect: { status: 400, code: 'invalid-node-header' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'pool unknown lease is lease-lost',
    note: 'a request with a lease the frontend never issued gets 409 lease-lost before any work',
    needs: ['pool'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m',
        headers: { 'smtpq-node': '$n1', 'smtpq-lease': '0123456789abcdef0123456789abcdef' },
        expect: { status: 409, code: 'lease-lost', json: { 'error.details.node': '$n1' } },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        expect: { status: 404, code: 'message-not-found' },
      },
    ],
  },
  {
    name: 'pool messages of a node carry its owner',
    note: 'a message created with node context is owned by that node; one created without has none',
    needs: ['pool'],
    steps: [
      acquire('n1', 'l1'),
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'rcpt 1' },
        body: BODY,
        headers: N1,
      },
      { message: '$m2', state: 'committed', envelopes: { $f1: 'rcpt 1' }, body: BODY },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { owner: '$n1' } } },
      {
        method: 'GET',
        path: '/v1/messages/$m',
        headers: N1,
        expect: { status: 200, json: { owner: '$n1', state: 'committed' } },
      },
      { method: 'GET', path: '/v1/messages/$m2', expect: { status: 200, json: { owner: null } } },
    ],
  },
  {
    name: 'pool bundle of a node carries its owner',
    note: 'a bundle sent with node context creates a message owned by that node',
    needs: ['pool', 'bundle'],
    steps: [
      acquire('n1', 'l1'),
      {
        method: 'PUT',
        path: '/v1/messages/$m/bundle',
        headers: N1,
        body: { bundle: { envelopes: [['$e1', 'rcpt 1']], body: BODY } },
        expect: 204,
      },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { owner: '$n1' } } },
      { walk: '/v1/walk', headers: N1, expect: { evpids: ['$e1'] } },
    ],
  },
  {
    name: 'pool walk filtered by owner',
    note: 'with node context the walk returns only envelopes of messages that node owns',
    needs: ['pool'],
    steps: [
      acquire('n1', 'l1'),
      acquire('n2', 'l2'),
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'rcpt 1', $e2: 'rcpt 2' },
        body: BODY,
        headers: N1,
      },
      {
        message: '$m2',
        state: 'committed',
        envelopes: { $f1: 'rcpt 1' },
        body: BODY,
        headers: N2,
      },
      { message: '$m3', state: 'committed', envelopes: { $g1: 'rcpt 1' }, body: BODY },
      { walk: '/v1/walk', headers: N1, limit: 1, expect: { evpids: ['$e1', '$e2'] } },
      { walk: '/v1/walk', headers: N2, expect: { evpids: ['$f1'] } },
      { walk: '/v1/walk', expect: { evpids: ['$e1', '$e2', '$f1', '$g1'] } },
      { list: 'committed', owner: '$n1', expect: { msgids: ['$m'] } },
      { list: 'any', owner: '$n2', expect: { msgids: ['$m2'] } },
      { list: 'any', owner: '', expect: { msgids: ['$m3'] } },
    ],
  },
  {
    name: 'pool claim of an unowned message',
    note: 'a claim from null moves the message to the caller and returns its evpids; a repeat succeeds',
    needs: ['pool'],
    steps: [
      acquire('n1', 'l1'),
      { message: '$m', state: 'committed', envelopes: { $e2: 'b', $e1: 'a' }, body: BODY },
      {
        method: 'POST',
        path: '/v1/messages/$m/claim',
        headers: N1,
        body: '{"from": null}',
        expect: {
          status: 200,
          json: { msgid: '$m', owner: '$n1', 'evpids.0': '$e1', 'evpids.1': '$e2' },
        },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/claim',
        headers: N1,
        body: '{"from": null}',
        expect: { status: 200, json: { owner: '$n1' } },
      },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { owner: '$n1' } } },
      { walk: '/v1/walk', headers: N1, expect: { evpids: ['$e1', '$e2'] } },
    ],
  },
  {
    name: 'pool claim refusals',
    note: 'claim-lost for a stale from, lease-live while the owner lives, message-open, no node',
    needs: ['pool'],
    steps: [
      acquire('n1', 'l1'),
      acquire('n2', 'l2'),
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'rcpt 1' },
        body: BODY,
        headers: N1,
      },
      { message: '$m2', state: 'open', envelopes: { $f1: 'rcpt 1' }, body: BODY },
      {
        method: 'POST',
        path: '/v1/messages/$m/claim',
        headers: N2,
        body: '{"from": null}',
        expect: { status: 409, code: 'claim-lost', json: { 'error.details.owner': '$n1' } },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/claim',
        headers: N2,
        body: '{"from": "$n1"}',
        expect: {
          status: 409,
          code: 'lease-live',
          json: { 'error.details.remainingMs': '~integer' },
        },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m2/claim',
        headers: N2,
        body: '{"from": null}',
        expect: { status: 409, code: 'message-open' },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/claim',
        body: '{"from": "$n1"}',
        expect: { status: 400, code: 'invalid-node-header' },
      },
      { method: 'GET', path: '/v1/messages/$m', expect: { status: 200, json: { owner: '$n1' } } },
      { method: 'GET', path: '/v1/messages/$m2', expect: { status: 200, json: { owner: null } } },
    ],
  },
  {
    name: 'pool fenced former owner is rejected',
    note: 'after release and claim, the old lease gets lease-lost and a new lease not-owner on every call; nothing changes',
    needs: ['pool'],
    steps: [
      acquire('n1', 'l1'),
      acquire('n2', 'l2'),
      {
        message: '$m',
        state: 'committed',
        envelopes: { $e1: 'rcpt 1' },
        body: BODY,
        headers: N1,
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        headers: N1,
        expect: { status: 200, save: { t: 'header.etag' } },
      },
      { method: 'DELETE', path: '/v1/nodes/$n1/lease?leaseId=$l1', expect: 204 },
      {
        method: 'POST',
        path: '/v1/messages/$m/claim',
        headers: N2,
        body: '{"from": "$n1"}',
        expect: { status: 200, json: { owner: '$n2', 'evpids.0': '$e1' } },
      },
      // The former owner with its old lease: lease-lost before any work.
      { method: 'GET', path: '/v1/walk', headers: N1, expect: { status: 409, code: 'lease-lost' } },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { ...N1, 'if-match': '$t' },
        body: 'changed',
        expect: { status: 409, code: 'lease-lost' },
      },
      {
        method: 'DELETE',
        path: '/v1/envelopes/$e1',
        headers: N1,
        expect: { status: 409, code: 'lease-lost' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        headers: N1,
        expect: { status: 409, code: 'lease-lost' },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        headers: N1,
        body: 'bounce',
        expect: { status: 409, code: 'lease-lost' },
      },
      // The same node with a new lease: the message is no longer its own.
      acquire('n1', 'l1'),
      { walk: '/v1/walk', headers: N1, expect: { evpids: [] } },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e1',
        headers: { ...N1, 'if-match': '$t' },
        body: 'changed',
        expect: { status: 409, code: 'not-owner', json: { 'error.details.owner': '$n2' } },
      },
      {
        method: 'DELETE',
        path: '/v1/envelopes/$e1',
        headers: N1,
        expect: { status: 409, code: 'not-owner' },
      },
      {
        method: 'GET',
        path: '/v1/messages/$m/body',
        headers: N1,
        expect: { status: 409, code: 'not-owner' },
      },
      {
        method: 'POST',
        path: '/v1/messages/$m/envelopes',
        headers: N1,
        body: 'bounce',
        expect: { status: 409, code: 'not-owner' },
      },
      {
        method: 'PUT',
        path: '/v1/envelopes/$e2',
        headers: { ...N1, 'if-none-match': '*' },
        body: 'bounce',
        expect: { status: 409, code: 'not-owner' },
      },
      {
        method: 'GET',
        path: '/v1/envelopes/$e1',
        expect: { status: 200, body: 'rcpt 1', headers: { etag: '$t' } },
      },
      { walk: '/v1/walk', expect: { evpids: ['$e1'] } },
      { walk: '/v1/walk', headers: N2, expect: { evpids: ['$e1'] } },
    ],
  },
];
