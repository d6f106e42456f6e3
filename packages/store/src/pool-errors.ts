import {
  isLeaseId,
  isNodeName,
  MAX_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  type Msgid,
  type NodeContext,
  QueueError,
} from '@smtpq/protocol';

/** Throws invalid-node-name unless `name` is a valid pool node name. */
export function nodeNameCheck(name: string): void {
  if (isNodeName(name)) return;
  throw new QueueError(
    'invalid-node-name',
    `invalid node name ${JSON.stringify(name.slice(0, 80))}: expected 1 to 63 characters of ` +
      "a-z, 0-9, '.', '_' and '-', starting with a letter or digit (a lower-case host name)",
    { details: { node: name } },
  );
}

/** Throws invalid-node-header unless `node` is a valid node name and lease id. */
export function nodeContextCheck(node: NodeContext): void {
  nodeNameCheck(node.name);
  if (isLeaseId(node.leaseId)) return;
  throw new QueueError(
    'invalid-node-header',
    `invalid lease id ${JSON.stringify(node.leaseId.slice(0, 80))} for node ${node.name}: ` +
      'expected the 32 lower-case hex digits of leaseId from PUT /v1/nodes/{node}/lease',
    { details: { node: node.name } },
  );
}

/** Throws invalid-request unless `ttlMs` is a whole number of ms in the accepted range. */
export function leaseTtlCheck(ttlMs: unknown): asserts ttlMs is number {
  if (Number.isSafeInteger(ttlMs) && (ttlMs as number) >= MIN_LEASE_TTL_MS) {
    if ((ttlMs as number) <= MAX_LEASE_TTL_MS) return;
  }
  throw new QueueError(
    'invalid-request',
    `invalid ttlMs ${JSON.stringify(ttlMs)}: expected an integer from ${MIN_LEASE_TTL_MS} to ` +
      `${MAX_LEASE_TTL_MS} (ms)`,
    { details: { ttlMs: ttlMs ?? null, min: MIN_LEASE_TTL_MS, max: MAX_LEASE_TTL_MS } },
  );
}

export function leaseLost(node: string): QueueError {
  return new QueueError(
    'lease-lost',
    `the lease of node ${node} is no longer current (expired, released or taken by another ` +
      `process); acquire a new lease with PUT /v1/nodes/${node}/lease`,
    { details: { node } },
  );
}

export function leaseHeld(node: string, remainingMs: number): QueueError {
  return new QueueError(
    'lease-held',
    `node ${node} holds a live lease for ${remainingMs} ms more; node names must be unique ` +
      'in a pool, so give this process another name (or release that lease if its process is gone)',
    { details: { node, remainingMs } },
  );
}

export function notOwner(msgid: Msgid, owner: string | null, node: string): QueueError {
  const by = owner === null ? 'no node' : `node ${owner}`;
  return new QueueError(
    'not-owner',
    `message ${msgid} is owned by ${by}, not by node ${node}; nothing was changed`,
    { details: { msgid, owner } },
  );
}

export function claimLost(msgid: Msgid, owner: string | null, from: string | null): QueueError {
  const expected = from === null ? 'unowned' : `owned by ${from}`;
  return new QueueError(
    'claim-lost',
    `message ${msgid} is no longer ${expected}: its owner is ${owner ?? 'no node'}; ` +
      'list the messages again',
    { details: { msgid, owner } },
  );
}

export function leaseLive(msgid: Msgid, from: string, remainingMs: number): QueueError {
  return new QueueError(
    'lease-live',
    `message ${msgid} cannot be claimed from node ${from} yet: its lease becomes claimable ` +
      `in ${remainingMs} ms (expiry plus the claim grace)`,
    { details: { msgid, node: from, remainingMs } },
  );
}

export function messageOpen(msgid: Msgid): QueueError {
  return new QueueError(
    'message-open',
    `message ${msgid} is not committed, so it cannot be claimed; an open message of a dead ` +
      'node is removed once it reaches the uncommitted maximum age',
    { details: { msgid } },
  );
}
