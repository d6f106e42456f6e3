import { check, fail } from '../../failure.js';
import type { CaseContext, CodeCase } from '../case-types.js';
import { errorCodeOf, type HttpClient } from '../http-client.js';
import { evpidOf, tally } from './helpers.js';

/** The msgid of field case FC-02; used when the store does not hold it already. */
const FC02_MSGID = '0000abcd';

/**
 * Runs one If-Match race: both clients read the ETag, then write different bytes with it at
 * the same moment. Exactly one write may win, and the envelope must hold the winner's bytes.
 */
async function ifMatchRound(
  writers: [HttpClient, HttpClient],
  evpid: string,
  round: number,
): Promise<void> {
  const path = `/v1/envelopes/${evpid}`;
  const [first, second] = await Promise.all(
    writers.map((client) => client.expect('GET', path, 200)),
  );
  const etag = String(first?.headers.etag);
  check(
    etag === String(second?.headers.etag),
    `round ${round}: the two clients read different ETags, ${etag} and ${second?.headers.etag}`,
  );

  const bytes = ['A', 'B'].map((writer) => Buffer.from(`writer ${writer}, round ${round}\n`));
  const responses = await Promise.all(
    writers.map((client, i) =>
      client.send('PUT', path, { headers: { 'if-match': etag }, body: bytes[i] }),
    ),
  );
  const statuses = responses.map((response) => response.status);
  const winners = statuses.flatMap((status, i) => (status >= 200 && status < 300 ? [i] : []));
  const losers = responses.filter(
    (response) => response.status === 412 && errorCodeOf(response) === 'precondition-failed',
  );
  check(
    winners.length === 1 && losers.length === 1,
    `round ${round}: two writes with If-Match ${etag} got ${statuses.join(' and ')}, expected one 2xx and one 412 precondition-failed`,
  );

  const stored = await writers[0].expect('GET', path, 200);
  const winner = bytes[winners[0] as number] as Buffer;
  check(
    stored.body.equals(winner),
    `round ${round}: the envelope holds ${JSON.stringify(stored.body.toString('latin1'))}, but the write that won sent ${JSON.stringify(winner.toString())}`,
  );
}

async function raceEnvelope(context: CaseContext): Promise<string> {
  const msgid = context.vars.newMsgid();
  const evpid = evpidOf(msgid, 1);
  await context.http.expect('PUT', `/v1/messages/${msgid}`, 201);
  await context.http.expect('PUT', `/v1/envelopes/${evpid}`, 201, {
    headers: { 'if-none-match': '*' },
    body: Buffer.from('start'),
  });
  await context.http.expect('PUT', `/v1/messages/${msgid}/body`, 204, {
    body: Buffer.from('body'),
    digest: 'auto',
  });
  await context.http.expect('POST', `/v1/messages/${msgid}/commit`, 204);
  return evpid;
}

export const raceCases: CodeCase[] = [
  {
    name: 'fc-02 twenty concurrent creates of one msgid',
    note: 'field case FC-02: 20 concurrent PUT of msgid 0000abcd get exactly one 201 and nineteen 409, no 5xx',
    run: async (context) => {
      const existing = await context.http.send('GET', `/v1/messages/${FC02_MSGID}`);
      // Never touch a message of the store's own: race on a random msgid instead.
      const msgid = existing.status === 404 ? FC02_MSGID : context.vars.newMsgid();
      context.vars.created.add(msgid);

      const responses = await Promise.all(
        Array.from({ length: 20 }, () => context.http.send('PUT', `/v1/messages/${msgid}`)),
      );
      const statuses = responses.map((response) => response.status);
      const created = statuses.filter((status) => status === 201).length;
      const exists = responses.filter(
        (response) => response.status === 409 && errorCodeOf(response) === 'message-exists',
      ).length;
      check(
        created === 1 && exists === 19,
        `20 concurrent creates of ${msgid} got ${tally(statuses)}, expected one 201 and nineteen 409 message-exists`,
      );
    },
  },
  {
    name: 'twenty concurrent creates of one evpid',
    note: 'create-if-absent holds under concurrency: one 201 and nineteen 409 envelope-exists',
    run: async (context) => {
      const msgid = context.vars.newMsgid();
      await context.http.expect('PUT', `/v1/messages/${msgid}`, 201);
      const evpid = evpidOf(msgid, 1);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          context.http.send('PUT', `/v1/envelopes/${evpid}`, {
            headers: { 'if-none-match': '*' },
            body: Buffer.from(`writer ${i}`),
          }),
        ),
      );
      const statuses = responses.map((response) => response.status);
      const winner = statuses.indexOf(201);
      const exists = responses.filter(
        (response) => response.status === 409 && errorCodeOf(response) === 'envelope-exists',
      ).length;
      check(
        winner !== -1 && statuses.lastIndexOf(201) === winner && exists === 19,
        `20 concurrent creates of ${evpid} got ${tally(statuses)}, expected one 201 and nineteen 409 envelope-exists`,
      );
      const stored = await context.http.expect('GET', `/v1/envelopes/${evpid}`, 200);
      check(
        stored.body.toString() === `writer ${winner}`,
        `envelope holds ${JSON.stringify(stored.body.toString())}, but writer ${winner} won the create`,
      );
    },
  },
  {
    name: 'concurrent server-chosen creates get distinct msgids',
    note: 'twenty concurrent POST /v1/messages get twenty 201 with twenty different msgids',
    run: async (context) => {
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => context.http.send('POST', '/v1/messages')),
      );
      const msgids = responses.map((response) => {
        const msgid =
          response.status === 201 ? String(JSON.parse(response.body.toString()).msgid) : '';
        if (msgid !== '') context.vars.created.add(msgid);
        return msgid;
      });
      check(
        responses.every((response) => response.status === 201),
        `statuses ${tally(responses.map((a) => a.status))}, expected twenty 201`,
      );
      check(
        new Set(msgids).size === 20,
        `20 creates returned only ${new Set(msgids).size} different msgids`,
      );
    },
  },
  {
    name: 'if-match race on one frontend',
    note: 'two writers with one ETag at the same moment: exactly one 2xx and one 412, each round',
    run: async (context) => {
      const evpid = await raceEnvelope(context);
      const rounds = Math.max(1, Math.min(context.settings.rounds, 30));
      for (let round = 1; round <= rounds; round++) {
        await ifMatchRound([context.http, context.http], evpid, round);
      }
    },
  },
  {
    name: 'fc-03 if-match race across two frontends',
    note: 'field case FC-03: two frontends write one envelope with one ETag at once; one 2xx and one 412 each round',
    needs: ['url2'],
    run: async (context) => {
      const second = context.http2 ?? fail('needs --url2');
      const evpid = await raceEnvelope(context);
      for (let round = 1; round <= context.settings.rounds; round++) {
        await ifMatchRound([context.http, second], evpid, round);
      }
    },
  },
];
