import { describe, expect, it } from 'vitest';
import { ClaimableSince, inSlot, SPREAD_ROUNDS, selectClaims, spreadSlot } from '../src/spread.js';

describe('spreadSlot', () => {
  it('orders the live nodes by name', () => {
    expect(spreadSlot('mx2', ['mx3', 'mx1', 'mx2'])).toEqual({ index: 1, count: 3 });
    expect(spreadSlot('mx1', ['mx3', 'mx1', 'mx2'])).toEqual({ index: 0, count: 3 });
    expect(spreadSlot('mx3', ['mx3', 'mx1', 'mx2'])).toEqual({ index: 2, count: 3 });
  });

  it('counts itself when the list lacks it', () => {
    expect(spreadSlot('mx2', ['mx1', 'mx3'])).toEqual({ index: 1, count: 3 });
  });

  it('counts a repeated name once', () => {
    expect(spreadSlot('mx1', ['mx1', 'mx1', 'mx2'])).toEqual({ index: 0, count: 2 });
  });

  it('gives a lone node every msgid', () => {
    const slot = spreadSlot('mx1', []);

    expect(slot).toEqual({ index: 0, count: 1 });
    expect(inSlot('0000000a', slot)).toBe(true);
    expect(inSlot('ffffffff', slot)).toBe(true);
  });
});

describe('inSlot', () => {
  it('uses the msgid value modulo the node count', () => {
    // 0x0000000a = 10: 10 % 3 = 1.
    expect(inSlot('0000000a', { index: 1, count: 3 })).toBe(true);
    expect(inSlot('0000000a', { index: 0, count: 3 })).toBe(false);
    expect(inSlot('0000000a', { index: 2, count: 3 })).toBe(false);
    // 0xffffffff = 4294967295 = 3 * 1431655765: remainder 0.
    expect(inSlot('ffffffff', { index: 0, count: 3 })).toBe(true);
  });

  it('puts every msgid in exactly one slot', () => {
    const msgids = ['00000001', '0badcafe', '12345678', '7fffffff', '80000000', 'deadbeef'];
    for (const count of [1, 2, 3, 5, 7]) {
      for (const msgid of msgids) {
        const slots = Array.from({ length: count }, (_, index) => index).filter((index) =>
          inSlot(msgid, { index, count }),
        );
        expect(slots, `${msgid} among ${count} nodes`).toHaveLength(1);
      }
    }
  });
});

describe('selectClaims', () => {
  // Values 1 to 6: slot 0 of 2 contains the even ones.
  const msgids = ['00000001', '00000002', '00000003', '00000004', '00000005', '00000006'];

  it('keeps to the own slot in the first rounds', () => {
    const selected = selectClaims(msgids, {
      slot: { index: 0, count: 2 },
      openToAll: false,
      limit: 10,
    });

    expect(selected).toEqual(['00000002', '00000004', '00000006']);
  });

  it('takes any msgid once open to all', () => {
    const selected = selectClaims(msgids, {
      slot: { index: 0, count: 2 },
      openToAll: true,
      limit: 10,
    });

    expect(selected).toEqual(msgids);
  });

  it('stops at the limit, in list order', () => {
    const slot = { index: 1, count: 2 };

    expect(selectClaims(msgids, { slot, openToAll: false, limit: 2 })).toEqual([
      '00000001',
      '00000003',
    ]);
    expect(selectClaims(msgids, { slot, openToAll: true, limit: 4 })).toEqual(msgids.slice(0, 4));
    expect(selectClaims(msgids, { slot, openToAll: true, limit: 0 })).toEqual([]);
  });

  it('splits a list between nodes without overlap', () => {
    const nodes = ['mx1', 'mx2', 'mx3'];
    const picked = nodes.map((node) =>
      selectClaims(msgids, { slot: spreadSlot(node, nodes), openToAll: false, limit: 10 }),
    );

    expect(picked.flat().sort()).toEqual(msgids);
  });
});

describe('ClaimableSince', () => {
  it('opens an owner to all after the spread rounds', () => {
    const since = new ClaimableSince();

    since.update(1, ['mx9']);
    expect(since.openToAll('mx9', 1)).toBe(false);

    since.update(2, ['mx9']);
    expect(since.openToAll('mx9', 2)).toBe(false);

    since.update(1 + SPREAD_ROUNDS, ['mx9']);
    expect(since.openToAll('mx9', 1 + SPREAD_ROUNDS)).toBe(true);
  });

  it('restarts the count when an owner comes back', () => {
    const since = new ClaimableSince();
    since.update(1, ['mx9']);
    since.update(2, []);
    since.update(3, ['mx9']);

    expect(since.openToAll('mx9', 4)).toBe(false);
    expect(since.openToAll('mx9', 5)).toBe(true);
  });

  it('tracks unowned messages under null', () => {
    const since = new ClaimableSince();
    since.update(7, [null, 'mx9']);

    expect(since.openToAll(null, 8)).toBe(false);
    expect(since.openToAll(null, 9)).toBe(true);
  });

  it('never opens an owner it has not seen claimable', () => {
    const since = new ClaimableSince();
    since.update(1, ['mx9']);

    expect(since.openToAll('mx8', 100)).toBe(false);
  });
});
