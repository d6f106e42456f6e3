import { check, show } from '../../failure.js';
import type { CaseContext, CodeCase } from '../case-types.js';
import { errorCodeOf, type HttpClient } from '../http-client.js';
import { commitMessage, evpidOf, tally } from './helpers.js';

interface Lease {
  node: string;
  leaseId: string;
  ttlMs: number;
  remainingMs: number;
  expiresAt: string;
}

interface NodeEntry {
  node: string;
  state: string;
  remainingMs: number;
  claimable: boolean;
  messages?: number;
  envelopes?: number;
}

/** Maximum wait in ms for a 1-second lease to show as expired. */
const EXPIRY_WAIT_MS = 10_000;

/** Rounds of the claim race at most; each round is one new message. */
const MAX_CLAIM_ROUNDS = 10;

function leaseAcquire(http: HttpClient, node: string, ttlMs: number): Promise<Lease> {
  return http.json<Lease>('PUT', `/v1/nodes/${node}/lease`, 201, {
    body: Buffer.from(JSON.stringify({ ttlMs })),
  });
}

function nodeHeaders(lease: Lease): Record<string, string> {
  return { 'smtpq-node': lease.node, 'smtpq-lease': lease.leaseId };
}

async function nodeEntry(http: HttpClient, node: string, counts = false): Promise<NodeEntry> {
  const list = await http.json<{ nodes: NodeEntry[] }>(
    'GET',
    `/v1/nodes${counts ? '?counts=true' : ''}`,
    200,
  );
  check(Array.isArray(list.nodes), `GET /v1/nodes: "nodes" is ${show(list.nodes)}`);
  const entry = list.nodes.find((candidate) => candidate.node === node);
  check(entry !== undefined, `GET /v1/nodes does not list node ${node}`);
  return entry;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Claims `msgid` from no owner as `lease` and returns the response. */
function claim(http: HttpClient, msgid: string, lease: Lease) {
  return http.send('POST', `/v1/messages/${msgid}/claim`, {
    headers: nodeHeaders(lease),
    body: Buffer.from('{"from": null}'),
  });
}

async function claimRace(context: CaseContext): Promise<void> {
  const { http, vars } = context;
  const second = context.http2 ?? http;
  const leases = [
    await leaseAcquire(http, vars.get('n1'), 60_000),
    await leaseAcquire(second, vars.get('n2'), 60_000),
  ] as const;
  const rounds = Math.max(1, Math.min(context.settings.rounds, MAX_CLAIM_ROUNDS));

  for (let round = 1; round <= rounds; round++) {
    const msgid = vars.newMsgid();
    const evpid = evpidOf(msgid, 1);
    await commitMessage(context, msgid, [{ evpid, data: Buffer.from('rcpt 1') }], Buffer.from('b'));

    const responses = await Promise.all([
      claim(http, msgid, leases[0]),
      claim(second, msgid, leases[1]),
    ]);
    const statuses = responses.map((response) => response.status);
    const winner = statuses.indexOf(200);
    const lost = responses.filter(
      (response) => response.status === 409 && errorCodeOf(response) === 'claim-lost',
    );
    check(
      winner !== -1 && statuses.lastIndexOf(200) === winner && lost.length === 1,
      `round ${round}: two claims of ${msgid} got ${tally(statuses)}, expected one 200 and one 409 claim-lost`,
    );

    const won = JSON.parse((responses[winner]?.body ?? Buffer.alloc(0)).toString()) as {
      owner: string;
      evpids: string[];
    };
    const expected = leases[winner]?.node;
    check(won.owner === expected, `round ${round}: claim returned owner ${show(won.owner)}`);
    check(
      show(won.evpids) === show([evpid]),
      `round ${round}: claim returned evpids ${show(won.evpids)}, expected ${show([evpid])}`,
    );
    const info = await http.json<{ owner: unknown }>('GET', `/v1/messages/${msgid}`, 200);
    check(
      info.owner === expected,
      `round ${round}: message owner is ${show(info.owner)}, but ${expected} won the claim`,
    );
  }
}

async function leaseExpiry(context: CaseContext): Promise<void> {
  const { http, vars } = context;
  const node = vars.get('n1');
  const lease = await leaseAcquire(http, node, 1000);
  check(lease.ttlMs === 1000, `acquire returned ttlMs ${show(lease.ttlMs)}, expected 1000`);
  check(
    Number.isInteger(lease.remainingMs) && lease.remainingMs > 0 && lease.remainingMs <= 1000,
    `acquire returned remainingMs ${show(lease.remainingMs)}, expected 1 to 1000`,
  );
  check(!Number.isNaN(Date.parse(lease.expiresAt)), `expiresAt ${show(lease.expiresAt)}`);

  // Only the frontend's clock counts: wait out remainingMs, then ask the frontend until it
  // reports the lease expired.
  await sleep(lease.remainingMs);
  const deadline = Date.now() + EXPIRY_WAIT_MS;
  let entry = await nodeEntry(http, node);
  while (entry.state === 'live' && Date.now() < deadline) {
    await sleep(100);
    entry = await nodeEntry(http, node);
  }
  check(
    entry.state === 'expired' && entry.remainingMs === 0,
    `a lease of 1000 ms is ${show(entry)} ${EXPIRY_WAIT_MS} ms after its remainingMs`,
  );

  await http.expect('GET', '/v1/walk?limit=1', 409, {
    headers: nodeHeaders(lease),
    code: 'lease-lost',
  });
  await http.expect('PUT', `/v1/nodes/${node}/lease`, 409, {
    body: Buffer.from(JSON.stringify({ ttlMs: 1000, leaseId: lease.leaseId })),
    code: 'lease-lost',
  });
  const again = await leaseAcquire(http, node, 60_000);
  check(again.leaseId !== lease.leaseId, 'a new acquire after expiry returned the old lease id');
}

async function nodeList(context: CaseContext): Promise<void> {
  const { http, vars } = context;
  const live = await leaseAcquire(http, vars.get('n1'), 60_000);
  const released = await leaseAcquire(http, vars.get('n2'), 60_000);
  await http.expect('DELETE', `/v1/nodes/${released.node}/lease?leaseId=${released.leaseId}`, 204);

  const msgid = vars.newMsgid();
  const headers = nodeHeaders(live);
  await http.expect('PUT', `/v1/messages/${msgid}`, 201, { headers });
  for (const index of [1, 2]) {
    await http.expect('PUT', `/v1/envelopes/${evpidOf(msgid, index)}`, 201, {
      headers: { ...headers, 'if-none-match': '*' },
      body: Buffer.from(`rcpt ${index}`),
    });
  }

  const liveEntry = await nodeEntry(http, live.node, true);
  check(
    liveEntry.state === 'live' && liveEntry.claimable === false && liveEntry.remainingMs > 0,
    `live node is listed as ${show(liveEntry)}`,
  );
  check(
    liveEntry.messages === 1 && liveEntry.envelopes === 2,
    `node with one message of two envelopes is counted as ${show(liveEntry)}`,
  );
  const releasedEntry = await nodeEntry(http, released.node);
  check(
    releasedEntry.state === 'released' &&
      releasedEntry.claimable === true &&
      releasedEntry.remainingMs === 0,
    `released node is listed as ${show(releasedEntry)}`,
  );

  const counted = await http.json<{ unowned?: { messages?: unknown; envelopes?: unknown } }>(
    'GET',
    '/v1/nodes?counts=true',
    200,
  );
  check(
    Number.isInteger(counted.unowned?.messages) && Number.isInteger(counted.unowned?.envelopes),
    `counts=true has unowned ${show(counted.unowned)}, expected messages and envelopes`,
  );
}

export const poolCodeCases: CodeCase[] = [
  {
    name: 'pool claim race between two nodes',
    note: 'two nodes claim one unowned message at once: exactly one 200 and one claim-lost, each round',
    needs: ['pool'],
    run: claimRace,
  },
  {
    name: 'pool lease expires by the frontend clock',
    note: 'a 1000 ms lease reports remainingMs from the frontend and then expires by its clock',
    needs: ['pool'],
    run: leaseExpiry,
  },
  {
    name: 'pool node list states and counts',
    note: 'GET /v1/nodes lists live and released nodes, claimable, and counts with counts=true',
    needs: ['pool'],
    run: nodeList,
  },
];
