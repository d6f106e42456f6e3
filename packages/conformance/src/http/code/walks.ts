import { randomInt } from 'node:crypto';
import { evpidMsgid } from '@smtpq/protocol';
import { check, fail, show } from '../../failure.js';
import type { CaseContext, CodeCase } from '../case-types.js';
import type { HttpClient } from '../http-client.js';
import { readWalk, type WalkedEntry } from '../walk-reader.js';
import { commitMessage, type EnvelopeData, evpidOf, forEachIndex } from './helpers.js';

const BODY = Buffer.from('Subject: walk\r\n\r\nbody\r\n');

/** Creates `messages` committed messages of `perMessage` one-line envelopes each; returns the evpids. */
async function fillQueue(
  context: CaseContext,
  messages: number,
  perMessage: number,
): Promise<string[]> {
  const msgids = Array.from({ length: messages }, () => context.vars.newMsgid());
  const evpids: string[] = [];
  await forEachIndex(messages, 4, async (m) => {
    const msgid = msgids[m] as string;
    const envelopes = Array.from({ length: perMessage }, (_, i) => ({
      evpid: evpidOf(msgid, i + 1),
      data: Buffer.from(`rcpt ${i + 1} of ${msgid}\n`),
    }));
    await commitMessage(context, msgid, envelopes, BODY);
  });
  for (const msgid of msgids) {
    for (let i = 1; i <= perMessage; i++) evpids.push(evpidOf(msgid, i));
  }
  return evpids.sort();
}

/** Checks that a walk returned every evpid of `expected`; readWalk already rejects repeats. */
function expectEach(entries: WalkedEntry[], expected: string[], what: string): void {
  const seen = new Set(entries.map((entry) => entry.evpid));
  const missing = expected.filter((evpid) => !seen.has(evpid));
  check(
    missing.length === 0,
    `${what}: ${missing.length} of ${expected.length} envelopes missing, such as ${show(missing.slice(0, 3))}`,
  );
}

async function walkAcross(context: CaseContext, second: HttpClient | null): Promise<void> {
  const evpids = await fillQueue(context, 25, 100);
  const clientFor = (page: number) => (page === 1 && second !== null ? second : context.http);
  const walk = await readWalk(clientFor, '/v1/walk', { limit: 1000 });
  expectEach(walk.entries, evpids, 'walk of 2500 envelopes in pages of 1000');

  const first = await context.http.json<{ next: string | null }>('GET', '/v1/walk?limit=1000', 200);
  const cursor = first.next ?? fail('first page of 1000 ended the walk of 2500 envelopes');
  const at = Math.floor(cursor.length / 2);
  const tampered = `${cursor.slice(0, at)}${cursor[at] === 'A' ? 'B' : 'A'}${cursor.slice(at + 1)}`;
  await (second ?? context.http).expect(
    'GET',
    `/v1/walk?cursor=${encodeURIComponent(tampered)}`,
    400,
    {
      code: 'invalid-cursor',
    },
  );
}

/** Picks a random msgid strictly between `low` and `high` (8 hex digits each), or null. */
function msgidBetween(low: string, high: string): string | null {
  const from = Number.parseInt(low, 16) + 1;
  const to = Number.parseInt(high, 16);
  if (from >= to) return null;
  return randomInt(from, to).toString(16).padStart(8, '0');
}

export const walkCodeCases: CodeCase[] = [
  {
    name: 'walk of 2500 envelopes in pages of 1000',
    note: 'a long walk returns each envelope exactly once and ends explicitly',
    run: (context) => walkAcross(context, null),
  },
  {
    name: 'fc-04 walk continued on a second frontend',
    note: 'field case FC-04: 2500 envelopes in pages of 1000, page 2 from another frontend: each once, explicit end, tampered cursor 400',
    needs: ['url2'],
    run: (context) => walkAcross(context, context.http2),
  },
  {
    name: 'fc-05 walk pages stay under the byte bound',
    note: 'field case FC-05: 300 envelopes of 60 KiB and 5000 one-line envelopes; every page under maxWalkPageBytes, none lost',
    run: async (context) => {
      const { limits } = context.info;
      const big = context.vars.newMsgid();
      const small = context.vars.newMsgid();
      const bigSize = Math.min(60 * 1024, limits.maxEnvelopeBytes);
      const bigEnvelopes: EnvelopeData[] = Array.from({ length: 300 }, (_, i) => ({
        evpid: evpidOf(big, i + 1),
        data: Buffer.alloc(bigSize, i % 251),
      }));
      const smallEnvelopes: EnvelopeData[] = Array.from({ length: 5000 }, (_, i) => ({
        evpid: evpidOf(small, i + 1),
        data: Buffer.from(`rcpt: user${i}@example.test\n`),
      }));
      await commitMessage(context, big, bigEnvelopes, BODY);
      await commitMessage(context, small, smallEnvelopes, BODY);

      const expected = [...bigEnvelopes, ...smallEnvelopes].map((envelope) => envelope.evpid);
      const walks: Array<{ what: string; path: string; own: string[] }> = [
        { what: 'the queue walk', path: '/v1/walk', own: expected },
      ];
      if (context.info.features.includes('message-walk')) {
        const path = `/v1/messages/${big}/envelopes`;
        walks.push({ what: 'the walk of the 60 KiB message', path, own: expected.slice(0, 300) });
      }
      for (const { what, path, own } of walks) {
        const walk = await readWalk(() => context.http, path, {
          limit: limits.maxWalkPageEnvelopes,
        });
        const over = walk.pageBytes.findIndex((bytes) => bytes > limits.maxWalkPageBytes);
        check(
          over === -1,
          `${what}: page ${over + 1} holds ${walk.pageBytes[over]} envelope bytes, over maxWalkPageBytes ${limits.maxWalkPageBytes}`,
        );
        expectEach(walk.entries, own, what);
        const byEvpid = new Map(walk.entries.map((entry) => [entry.evpid, entry.data]));
        for (const envelope of [...bigEnvelopes.slice(0, 3), ...bigEnvelopes.slice(-3)]) {
          check(
            byEvpid.get(envelope.evpid)?.equals(envelope.data) === true,
            `${what}: data of ${envelope.evpid} differs`,
          );
        }
      }
    },
  },
  {
    name: 'walk under concurrent inserts and deletes',
    note: 'never an envelope twice; committed ahead of the cursor appears; deleted before its page does not',
    run: async (context) => {
      const evpids = await fillQueue(context, 8, 25);
      const used = new Set(evpids.map(evpidMsgid));
      const deleted = new Set<string>();
      const insertedAhead: string[] = [];
      const insertedBehind: string[] = [];
      const racing: Array<Promise<unknown>> = [];

      const commitOne = async (msgid: string | null, list: string[]) => {
        if (msgid === null || used.has(msgid)) return;
        used.add(msgid);
        context.vars.created.add(msgid);
        await commitMessage(
          context,
          msgid,
          [{ evpid: evpidOf(msgid, 1), data: Buffer.from('late') }],
          BODY,
        );
        list.push(evpidOf(msgid, 1));
      };

      const between = async (_page: number, entries: readonly WalkedEntry[]) => {
        // Changes that end before the next page is read have a known effect on the walk.
        const lastSeen = entries.at(-1)?.evpid ?? '';
        const ahead = evpids.filter((evpid) => evpid > lastSeen && !deleted.has(evpid));
        for (const evpid of ahead.slice(-2)) {
          await context.http.expect('DELETE', `/v1/envelopes/${evpid}`, 204);
          deleted.add(evpid);
        }
        // The cursor cannot pass an envelope the walk has not returned. So an envelope committed
        // after the next kept one must appear, and one behind the last returned must not.
        const nextKept = ahead.find((evpid) => !deleted.has(evpid));
        if (nextKept !== undefined)
          await commitOne(msgidBetween(evpidMsgid(nextKept), 'ffffffff'), insertedAhead);
        if (lastSeen !== '')
          await commitOne(msgidBetween('00000000', evpidMsgid(lastSeen)), insertedBehind);

        // A change in flight while the next page is read may show or not, but never twice.
        const msgid = context.vars.newMsgid();
        used.add(msgid);
        racing.push(
          commitMessage(
            context,
            msgid,
            [{ evpid: evpidOf(msgid, 1), data: Buffer.from('racing') }],
            BODY,
          ),
        );
      };

      const walk = await readWalk(() => context.http, '/v1/walk', { limit: 25, between });
      await Promise.all(racing);

      const seen = new Set(walk.entries.map((entry) => entry.evpid));
      expectEach(
        walk.entries,
        evpids.filter((evpid) => !deleted.has(evpid)),
        'walk under changes',
      );
      expectEach(walk.entries, insertedAhead, 'envelopes committed ahead of the cursor');
      const resurrected = [...deleted].filter((evpid) => seen.has(evpid));
      check(
        resurrected.length === 0,
        `walk returned envelopes deleted before their page: ${show(resurrected)}`,
      );
      const behind = insertedBehind.filter((evpid) => seen.has(evpid));
      check(
        behind.length === 0,
        `walk returned envelopes committed behind its cursor: ${show(behind)}`,
      );
      check(
        insertedAhead.length > 0 && deleted.size > 0,
        'the walk ended before any change could be made between its pages',
      );
    },
  },
  {
    name: 'bundle with too many envelopes 400',
    note: 'a bundle of limits.maxBundleEnvelopes + 1 envelopes gets 400 invalid-bundle and leaves nothing',
    needs: ['bundle'],
    run: async (context) => {
      const msgid = context.vars.newMsgid();
      const count = context.info.limits.maxBundleEnvelopes + 1;
      const lines: Buffer[] = [Buffer.from('smtpq-bundle 1\n')];
      for (let i = 1; i <= count; i++) lines.push(Buffer.from(`E ${evpidOf(msgid, i)} 1\nx\n`));
      lines.push(Buffer.from('B 4\nbody'));
      await context.http.expect('PUT', `/v1/messages/${msgid}/bundle`, 400, {
        body: Buffer.concat(lines),
        digest: 'auto',
        code: 'invalid-bundle',
      });
      await context.http.expect('GET', `/v1/messages/${msgid}`, 404, { code: 'message-not-found' });
    },
  },
];
