import { HEADER, QueueError } from '@smtpq/protocol';
import type { QueueStore } from '@smtpq/store';
import type { Request, Response } from 'express';
import { type AppContext, requestFacts } from './context.js';

/**
 * Returns the store a queue request acts on. With the Smtpq-Node and Smtpq-Lease headers, it
 * is the store scoped to that pool node, which checks the lease before any other work. Without
 * them, it is the single-node store. One header without the other is invalid-node-header.
 */
export function queueStoreFor(req: Request, res: Response, context: AppContext): QueueStore {
  const name = singleHeader(req, HEADER.node, 'Smtpq-Node');
  const leaseId = singleHeader(req, HEADER.lease, 'Smtpq-Lease');
  if (name === undefined && leaseId === undefined) return context.store;

  if (name === undefined || leaseId === undefined) {
    const [sent, missing] = name === undefined ? ['Lease', 'Node'] : ['Node', 'Lease'];
    throw new QueueError(
      'invalid-node-header',
      `Smtpq-${sent} was sent without Smtpq-${missing}; send both for a pool node, or neither`,
    );
  }

  requestFacts(res).node = name;
  return context.store.withNode({ name, leaseId });
}

function singleHeader(req: Request, name: string, displayName: string): string | undefined {
  const value = req.headers[name];
  if (value === undefined || typeof value === 'string') return value;
  throw new QueueError(
    'invalid-node-header',
    `${displayName} must be sent once, not ${value.length} times`,
  );
}
