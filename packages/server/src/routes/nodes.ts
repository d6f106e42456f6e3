import { isLeaseId, type NodeLease, QueueError } from '@smtpq/protocol';
import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { readJsonObject } from '../request-json.js';
import { idempotencyKey, queryString } from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/**
 * Adds the pool's lease and node list routes. They ignore the node headers: a node whose lease
 * is lost must still be able to acquire a new one.
 */
export function addNodeRoutes(routes: RouteTable, context: AppContext): void {
  const { store } = context;

  routes.add('put', '/v1/nodes/:node/lease', async (req, res) => {
    const node = nodeParam(req);
    const token = idempotencyKey(req);
    const body = await readJsonObject(req, res, context, ['ttlMs', 'leaseId']);
    const leaseId = leaseIdValue(body.leaseId, 'leaseId in the request body');
    const ttlMs = body.ttlMs as number;

    if (leaseId === undefined) {
      const lease: NodeLease = await store.nodeLeaseAcquire(node, { ttlMs, token });
      res.status(201).json(lease);
      return;
    }
    res.status(200).json(await store.nodeLeaseRenew(node, leaseId, { ttlMs }));
  });

  routes.add('delete', '/v1/nodes/:node/lease', async (req, res) => {
    const node = nodeParam(req);
    // Releases are idempotent and need no token, but a malformed one is still rejected.
    idempotencyKey(req);
    const leaseId = leaseIdValue(queryString(req, 'leaseId'), 'leaseId query parameter');
    await store.nodeLeaseRelease(node, { leaseId });
    res.status(204).end();
  });

  routes.add('get', '/v1/nodes', async (req, res) => {
    res.json(await store.nodeList({ counts: countsQuery(req) }));
  });
}

/** Returns the `{node}` path parameter; the store checks it and throws invalid-node-name. */
function nodeParam(req: Request): string {
  const node = req.params.node;
  return typeof node === 'string' ? node : '';
}

function leaseIdValue(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && isLeaseId(value)) return value;
  throw new QueueError(
    'invalid-request',
    `invalid ${name} ${JSON.stringify(value)}: expected the 32 lower-case hex digits of the ` +
      'leaseId that the acquire returned',
  );
}

function countsQuery(req: Request): boolean {
  const counts = queryString(req, 'counts');
  if (counts === undefined || counts === 'false') return false;
  if (counts === 'true') return true;
  throw new QueueError('invalid-request', `invalid counts "${counts}": expected "true" or "false"`);
}
