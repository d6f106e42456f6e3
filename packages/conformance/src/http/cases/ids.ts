import type { DataCase, RequestStep } from '../case-types.js';

/** Msgids in every form but the accepted one: 8 lower-case hex digits, not zero. */
const BAD_MSGIDS: Array<[form: string, msgid: string]> = [
  ['upper case', '$m:upper'],
  ['seven digits', '0000abc'],
  ['nine digits', '0000abcd0'],
  ['0x prefix', '0x00abcd'],
  ['zero', '00000000'],
  ['not hex', '0000abcg'],
];

/** Evpids in every form but the accepted one: 16 lower-case hex digits, neither half zero. */
const BAD_EVPIDS: Array<[form: string, evpid: string]> = [
  ['upper case', '$e1:upper'],
  ['fifteen digits', '0000abcd0000001'],
  ['seventeen digits', '0000abcd000000010'],
  ['0x prefix', '0x00abcd00000001'],
  ['zero', '0000000000000000'],
  ['zero low half', '$e0'],
  ['zero msgid half', '0000000000000001'],
  ['not hex', '0000abcd0000000g'],
];

function msgidSteps(msgid: string): RequestStep[] {
  const invalid = { status: 400, code: 'invalid-msgid' } as const;
  return [
    { method: 'GET', path: `/v1/messages/${msgid}`, expect: invalid },
    { method: 'PUT', path: `/v1/messages/${msgid}`, expect: invalid },
    { method: 'DELETE', path: `/v1/messages/${msgid}`, expect: invalid },
    { method: 'PUT', path: `/v1/messages/${msgid}/body`, body: 'body', expect: invalid },
    { method: 'GET', path: `/v1/messages/${msgid}/body`, expect: invalid },
    { method: 'POST', path: `/v1/messages/${msgid}/commit`, expect: invalid },
    { method: 'POST', path: `/v1/messages/${msgid}/envelopes`, body: 'rcpt', expect: invalid },
    { method: 'GET', path: `/v1/messages/${msgid}/envelopes`, expect: invalid },
  ];
}

function evpidSteps(evpid: string): RequestStep[] {
  const invalid = { status: 400, code: 'invalid-evpid' } as const;
  return [
    { method: 'GET', path: `/v1/envelopes/${evpid}`, expect: invalid },
    {
      method: 'PUT',
      path: `/v1/envelopes/${evpid}`,
      headers: { 'if-none-match': '*' },
      body: 'rcpt',
      expect: invalid,
    },
    { method: 'PUT', path: `/v1/envelopes/${evpid}`, body: 'rcpt', expect: invalid },
    { method: 'DELETE', path: `/v1/envelopes/${evpid}`, expect: invalid },
  ];
}

export const idCases: DataCase[] = [
  ...BAD_MSGIDS.map(
    ([form, msgid]): DataCase => ({
      name: `invalid msgid: ${form}`,
      note: 'a msgid in any other form gets 400 invalid-msgid on every route, and nothing is created',
      steps: [
        ...msgidSteps(msgid),
        {
          method: 'GET',
          path: '/v1/messages/$m',
          expect: { status: 404, code: 'message-not-found' },
        },
      ],
    }),
  ),
  ...BAD_EVPIDS.map(
    ([form, evpid]): DataCase => ({
      name: `invalid evpid: ${form}`,
      note: 'an evpid in any other form gets 400 invalid-evpid on every route, and nothing is created',
      steps: [
        { message: '$m', state: 'open' },
        ...evpidSteps(evpid),
        { walk: '/v1/messages/$m/envelopes?include=uncommitted', expect: { evpids: [] } },
      ],
    }),
  ),
  {
    name: 'invalid msgid in bundle path',
    note: 'PUT .../bundle checks the msgid of its path like every other route',
    needs: ['bundle'],
    steps: [
      {
        method: 'PUT',
        path: '/v1/messages/$m:upper/bundle',
        body: { bundle: { envelopes: [], body: 'x' } },
        expect: { status: 400, code: 'invalid-msgid' },
      },
      {
        method: 'PUT',
        path: '/v1/messages/00000000/bundle',
        body: { bundle: { envelopes: [], body: 'x' } },
        expect: { status: 400, code: 'invalid-msgid' },
      },
    ],
  },
];
