import { describe, expect, it } from 'vitest';
import { driverCases, HTTP_CASES } from '../src/index.js';
import { caseFilter, formatOutcome, formatSummary } from '../src/results.js';

describe('suite shape', () => {
  it('http case names are unique', () => {
    const names = HTTP_CASES.map((entry) => entry.name);

    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(40);
  });

  it('every http case says what it pins', () => {
    const bare = HTTP_CASES.filter((entry) => entry.note.trim().length < 20).map(
      (entry) => entry.name,
    );

    expect(bare).toEqual([]);
  });

  it('field cases name their field case', () => {
    const names = HTTP_CASES.map((entry) => entry.name);

    for (const id of ['fc-02', 'fc-03', 'fc-04', 'fc-05']) {
      expect(names.filter((name) => name.startsWith(`${id} `))).toHaveLength(1);
    }
  });

  it('driver case names are unique', () => {
    const names = driverCases().map((entry) => entry.name);

    expect(new Set(names).size).toBe(names.length);
  });

  it('outcome lines', () => {
    expect(formatOutcome({ name: 'health', status: 'ok' })).toBe('ok   health');
    expect(formatOutcome({ name: 'health', status: 'fail', reason: 'got 503\nretry' })).toBe(
      'FAIL health: got 503 retry',
    );
    expect(formatOutcome({ name: 'fc-03', status: 'skip', reason: 'needs --url2' })).toBe(
      'skip fc-03: needs --url2',
    );
  });

  it('summary line names skips only when there are some', () => {
    expect(formatSummary({ passed: 3, failed: 1, skipped: 0, outcomes: [] })).toBe(
      '3 passed, 1 failed',
    );
    expect(formatSummary({ passed: 3, failed: 0, skipped: 2, outcomes: [] })).toBe(
      '3 passed, 0 failed, 2 skipped',
    );
  });

  it('only pattern matches substrings and stars', () => {
    const filter = caseFilter('walk*order');

    expect(filter('walk order ignores commit order')).toBe(true);
    expect(filter('Walk pages in evpid order')).toBe(true);
    expect(filter('walk of one message')).toBe(false);
    expect(caseFilter('fc-0')('fc-03 if-match race across two frontends')).toBe(true);
    expect(caseFilter('a.b')('axb')).toBe(false);
  });
});
