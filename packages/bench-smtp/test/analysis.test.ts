import { describe, expect, it } from 'vitest';
import { phaseBudget } from '../src/budget.js';
import { frontendRequests, lastCounters } from '../src/logs.js';
import { parseOptions, UsageError } from '../src/options.js';
import type { EventSeries } from '../src/probes/event-log.js';
import { busyTimeInWindow, timesInWindow } from '../src/timings.js';

function series(events: Array<[string, number, number]>): EventSeries {
  const labels = [...new Set(events.map(([label]) => label))];
  return {
    labels,
    label: events.map(([label]) => labels.indexOf(label)),
    start: events.map(([, start]) => start),
    duration: events.map(([, , duration]) => duration),
  };
}

describe('timesInWindow', () => {
  it('keeps events that start inside the window', () => {
    const events = series([
      ['fsync', 5, 1],
      ['fsync', 10, 2],
      ['fsync', 20, 4],
      ['rename', 30, 1],
    ]);

    const times = timesInWindow(events, { start: 10, end: 20 });

    expect(Object.keys(times)).toEqual(['fsync']);
    expect(times.fsync?.count).toBe(2);
    expect(times.fsync?.totalMs).toBe(6);
    expect(times.fsync?.meanMs).toBe(3);
    expect(times.fsync?.p99Ms).toBe(4);
  });
});

describe('busyTimeInWindow', () => {
  it('counts overlapping events once', () => {
    const events = series([
      ['fsync', 0, 4],
      ['fsync', 1, 2],
      ['fsync', 3, 3],
      ['fsync', 10, 1],
    ]);

    expect(busyTimeInWindow(events, { start: 0, end: 100 })).toBe(7);
    expect(busyTimeInWindow(undefined, { start: 0, end: 100 })).toBe(0);
  });
});

describe('phaseBudget', () => {
  it('splits wall time per message', () => {
    const window = { start: 1000, end: 1100 };
    const budget = phaseBudget(window, 10, {
      calls: series([
        ['MESSAGE_COMMIT', 1010, 6],
        ['MESSAGE_COMMIT', 1050, 4],
      ]),
      http: series([['PUT /v1/messages/:id/bundle', 1011, 8]]),
      frontendRequests: series([['PUT /v1/messages/:msgid/bundle', 1012, 5]]),
      syncs: series([
        ['fsync', 1013, 2],
        ['fsync', 1013, 2],
      ]),
    });

    expect(budget.perMessageMs.wall).toBe(10);
    expect(budget.perMessageMs.queueRest).toBe(1);
    expect(budget.perMessageMs.http).toBe(0.8);
    expect(budget.perMessageMs.frontend).toBe(0.5);
    expect(budget.perMessageMs.durableWrite).toBe(0.2);
    expect(budget.perMessageMs.outsideQueueRest).toBe(9);
    expect(budget.syncsPerMessage).toBe(0.2);
  });

  it('leaves figures without events null', () => {
    const budget = phaseBudget({ start: 0, end: 50 }, 5, {});

    expect(budget.perMessageMs.wall).toBe(10);
    expect(budget.perMessageMs.queueRest).toBeNull();
    expect(budget.perMessageMs.durableWrite).toBeNull();
  });
});

describe('lastCounters', () => {
  it('takes the last counters line of the log', () => {
    const log = [
      'info: OpenSMTPD 6.8.0p2 starting',
      '{"level":"info","msg":"counters","acceptedMessages":1,"waitsPerAcceptedMessage":1}',
      '{"level":"info","msg":"smtpd closed the socket; exiting"}',
      '{"level":"info","msg":"counters","acceptedMessages":3,"waitsPerAcceptedMessage":1,' +
        '"waitsPerDeliveredMessage":2.5}',
      '{"level":"info","msg":"cut li',
    ].join('\n');

    const counters = lastCounters(log);

    expect(counters?.acceptedMessages).toBe(3);
    expect(counters?.waitsPerDeliveredMessage).toBe(2.5);
    expect(lastCounters('info: no queue-rest here')).toBeNull();
  });
});

describe('frontendRequests', () => {
  it('reads request lines as events that end at their time', () => {
    const log = [
      '{"level":30,"time":1000,"msg":"listening"}',
      '{"level":30,"time":1010,"method":"PUT","route":"/v1/messages/:msgid/bundle",' +
        '"durationMs":4,"msg":"request"}',
    ].join('\n');

    const events = frontendRequests(log);

    expect(events.labels).toEqual(['PUT /v1/messages/:msgid/bundle']);
    expect(events.start).toEqual([1006]);
    expect(events.duration).toEqual([4]);
  });
});

describe('parseOptions', () => {
  it('has the documented defaults', () => {
    const options = parseOptions([]);

    expect(options).toMatchObject({
      messages: 2000,
      sessions: 8,
      messageBytes: 4096,
      messagesPerConnection: 50,
      warmup: 50,
      runs: 1,
      queues: ['fs', 'rest'],
      phases: 'separate',
      probes: true,
      storeParent: null,
      jsonPath: null,
    });
  });

  it('reads every option', () => {
    const options = parseOptions([
      '--messages',
      '500',
      '--queues',
      'rest',
      '--phases',
      'mixed',
      '--warmup',
      '0',
      '--no-probes',
      '--json',
      'out.json',
    ]);

    expect(options).toMatchObject({
      messages: 500,
      queues: ['rest'],
      phases: 'mixed',
      warmup: 0,
      probes: false,
      jsonPath: 'out.json',
    });
    expect(parseOptions(['--help'])).toBeNull();
  });

  it.each([
    [['--messages', '0'], '--messages 0 is invalid: give a whole number of at least 1'],
    [['--messages', '1e3'], '--messages 1e3 is invalid: give a whole number of at least 1'],
    [['--queues', 'fs,ram'], '--queues fs,ram is invalid: give fs,rest, fs or rest'],
    [['--phases', 'both'], '--phases both is invalid: give separate or mixed'],
    [['--size', '100'], '--size 100 is invalid: give at least 512 bytes'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('rejects %j', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(UsageError);
    expect(() => parseOptions(argv)).toThrow(message);
  });
});
