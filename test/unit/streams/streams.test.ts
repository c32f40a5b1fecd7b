// Marble tests (rxjs/testing TestScheduler, virtual time: one frame = 1 ms) for the stream
// operators: smoothing, per-guest grouping, ticks, ordering, and the composed input stream.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { of, take, toArray, firstValueFrom } from 'rxjs';
import type { AgentReport, AgentReports, GuestLeft, SupervisorInput, HostSample, Tick } from '../../../src/vocabulary/events.ts';
import { batchReports, REPORT_BATCH_MS } from '../../../src/streams/batch.ts';
import { limitRate } from '../../../src/streams/rate.ts';
import type { HostEvent } from '../../../src/hosts/host.ts';
import { FMD_KIB } from '../../../src/policy/smoothing.ts';
import { smoothFreeKiB } from '../../../src/streams/smooth.ts';
import { GuestReportFilter, reportsPerGuest } from '../../../src/streams/guest-reports.ts';
import { ticks } from '../../../src/streams/ticks.ts';
import { nonDecreasingAt } from '../../../src/streams/ordered.ts';
import { supervisorInputs } from '../../../src/streams/inputs.ts';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

const LOW = 100_000;
const HIGH = 400_000; // more than FMD_KIB above LOW

function report(id: string, freeKiB: number, at = 0): AgentReport {
  return { type: 'agent.report', at, id, committedKiB: 200_000, freeKiB, swapTotalKiB: 0, swapFreeKiB: 0 };
}
const left = (id: string, at = 0): GuestLeft => ({ type: 'guest.left', at, id });
/** The agent.reports input carrying these reports, stamped `at`. */
function batch(at: number, ...reports: AgentReport[]): AgentReports {
  return {
    type: 'agent.reports',
    at,
    reports: reports.map(({ id, committedKiB, freeKiB, swapTotalKiB, swapFreeKiB }) => ({ id, committedKiB, freeKiB, swapTotalKiB, swapFreeKiB })),
  };
}
const tick = (at: number): Tick => ({ type: 'tick', at });

const OPTS = { k: 3, fmdKiB: FMD_KIB };

describe('smoothFreeKiB', () => {
  test('replaces a burst by the window mean and passes every other field through', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const src = hot('-a-b-c-d-e|', {
        a: report('vm1', 100_000),
        b: report('vm1', 101_000),
        c: report('vm1', 102_000),
        d: report('vm1', 300_000), // the reclaimer's instant jump
        e: report('vm1', 99_000),
      });
      expectObservable(src.pipe(smoothFreeKiB(OPTS))).toBe('-a-b-c-d-e|', {
        a: report('vm1', 100_000),
        b: report('vm1', 101_000),
        c: report('vm1', 102_000),
        d: report('vm1', 101_000),
        e: report('vm1', 99_000),
      });
    });
  });

  test('calls onOutlier once per rejected sample', () => {
    const outliers: number[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abcd|', { a: report('x', LOW), b: report('x', HIGH), c: report('x', LOW), d: report('x', HIGH + 1) });
      expectObservable(src.pipe(smoothFreeKiB({ ...OPTS, onOutlier: (raw) => outliers.push(raw.freeKiB) }))).toBe('abcd|', {
        a: report('x', LOW),
        b: report('x', LOW),
        c: report('x', LOW),
        d: report('x', LOW),
      });
    });
    assert.deepEqual(outliers, [HIGH, HIGH + 1]);
  });

  test('each subscription has its own window', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const op = smoothFreeKiB(OPTS);
      const a = cold('ab|', { a: report('x', LOW), b: report('x', LOW) }).pipe(op);
      const b = cold('a|', { a: report('y', HIGH) }).pipe(op);
      expectObservable(a).toBe('ab|', { a: report('x', LOW), b: report('x', LOW) });
      expectObservable(b).toBe('a|', { a: report('y', HIGH) });
    });
  });

  test('refuses bad options when built, not at the first report', () => {
    assert.throws(() => smoothFreeKiB({ k: 0, fmdKiB: FMD_KIB }), /k must be/);
  });
});

describe('reportsPerGuest', () => {
  /** Smoothing per guest, no rate limit. */
  const smoothPerGuest = (ts: TestScheduler) => reportsPerGuest({ minIntervalMs: 0, scheduler: ts, smoothing: OPTS });

  test('guests never share a window', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('-a-b-c-d|', { a: report('A', LOW), b: report('B', HIGH), c: report('A', LOW), d: report('B', HIGH) });
      expectObservable(src.pipe(smoothPerGuest(ts))).toBe('-a-b-c-d|', {
        a: report('A', LOW),
        b: report('B', HIGH),
        c: report('A', LOW),
        d: report('B', HIGH),
      });
    });
  });

  test('a guest that leaves is let go, and one that comes back starts fresh', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      // A settles at LOW, leaves, comes back with HIGH: a fresh window takes HIGH as it is.
      const src = hot<HostEvent>('-a-b-c-l-d-e|', {
        a: report('A', LOW),
        b: report('A', LOW),
        c: report('B', LOW),
        l: left('A'),
        d: report('A', HIGH),
        e: report('B', HIGH),
      });
      expectObservable(src.pipe(smoothPerGuest(ts))).toBe('-a-b-c-l-d-e|', {
        a: report('A', LOW),
        b: report('A', LOW),
        c: report('B', LOW),
        l: left('A'), // guest.left itself passes through
        d: report('A', HIGH), // fresh: taken as it is
        e: report('B', LOW), // B stayed: HIGH is an outlier against its window
      });
    });
  });

  test('control: without the leave, the returning sample would have been smoothed', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('-a-b--l--d|', { a: report('A', LOW), b: report('A', LOW), l: left('B'), d: report('A', HIGH) }); // someone else leaves
      expectObservable(src.pipe(smoothPerGuest(ts))).toBe('-a-b--l--d|', {
        a: report('A', LOW),
        b: report('A', LOW),
        l: left('B'),
        d: report('A', LOW),
      });
    });
  });

  test("a guest's state is dropped exactly when its guest.left arrives, held report and timer included", () => {
    const ts = scheduler();
    const out: AgentReport[] = [];
    ts.run(({ flush }) => {
      const filter = new GuestReportFilter({ minIntervalMs: 4, scheduler: ts, smoothing: OPTS }, { next: (r) => out.push(r), error: (e) => assert.fail(String(e)) });
      filter.report(report('A', LOW, 0));
      filter.report(report('B', LOW, 0));
      filter.report(report('A', LOW + 1, 0)); // held for the end of A's interval
      assert.equal(filter.size, 2);
      assert.equal(ts.actions.length, 1, "A's held report has its timer");
      filter.left('A');
      assert.equal(filter.size, 1, "A's state is gone, B's kept");
      assert.equal(ts.actions.length, 0, "A's timer is gone");
      flush();
      filter.left('nobody'); // a guest that never reported: nothing to drop
      assert.equal(filter.size, 1);
    });
    assert.deepEqual(out, [report('A', LOW, 0), report('B', LOW, 0)], "A's held report never went out");
  });

  test('one subscription to the host for as long as the result is subscribed; unsubscribing drops every held report', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const src = hot<HostEvent>('-ab-----', { a: report('A', LOW, 1), b: report('A', LOW + 1, 2) });
      const out = src.pipe(reportsPerGuest({ minIntervalMs: 4, scheduler: ts, smoothing: OPTS }));
      // b is held until 5; unsubscribed at 4, it never goes out.
      expectObservable(out, '^---!').toBe('-a--', { a: report('A', LOW, 1) });
      expectSubscriptions(src.subscriptions).toBe(['^---!']);
    });
  });

  test("one guest's leaving closes only its group", () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('-abl-c-d-|', { a: report('A', LOW), b: report('B', LOW), l: left('A'), c: report('B', HIGH), d: report('A', HIGH) });
      expectObservable(src.pipe(smoothPerGuest(ts))).toBe('-abl-c-d-|', {
        a: report('A', LOW),
        b: report('B', LOW),
        l: left('A'),
        c: report('B', LOW),
        d: report('A', HIGH),
      });
    });
  });

  test("completion waits for every guest's held report, each at the end of its own interval", () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('aAbB|', { a: report('A', LOW, 0), A: report('B', LOW, 1), b: report('A', LOW + 1, 2), B: report('B', LOW + 2, 3) });
      expectObservable(src.pipe(reportsPerGuest({ minIntervalMs: 4, scheduler: ts, smoothing: OPTS }))).toBe('aA--b(B|)', {
        a: report('A', LOW, 0),
        A: report('B', LOW, 1),
        b: report('A', LOW + 1, 2),
        B: report('B', LOW + 2, 3),
      });
    });
  });

  test('a report the smoothing refuses fails the stream, as a bad sample in the window would', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('-ab', { a: report('A', LOW), b: report('A', 1.5) });
      expectObservable(src.pipe(smoothPerGuest(ts))).toBe('-a#', { a: report('A', LOW) }, new RangeError('free memory sample must be a whole number of KiB >= 0, got 1.5'));
    });
  });

  test('refuses bad options when built', () => {
    const ts = scheduler();
    assert.throws(() => reportsPerGuest({ minIntervalMs: -1, scheduler: ts, smoothing: OPTS }), /rate limit interval/);
    assert.throws(() => reportsPerGuest({ minIntervalMs: 0, scheduler: ts, smoothing: { k: 0, fmdKiB: FMD_KIB } }), /k must be/);
  });
});

describe('ticks', () => {
  test('one tick per interval, stamped with the scheduler\'s now()', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      expectObservable(ticks(3, ts), '^ 10ms !').toBe('3ms a 2ms b 2ms c', { a: tick(3), b: tick(6), c: tick(9) });
    });
  });

  test('refuses a non-positive interval', () => {
    assert.throws(() => ticks(0), /tick interval/);
  });
});

describe('nonDecreasingAt', () => {
  test('an input stamped before its predecessor enters at the predecessor\'s time', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abcd|', { a: tick(5), b: tick(3), c: tick(7), d: tick(7) });
      expectObservable(src.pipe(nonDecreasingAt())).toBe('abcd|', { a: tick(5), b: tick(5), c: tick(7), d: tick(7) });
    });
  });
});

describe('supervisorInputs', () => {
  const sample = (at: number): HostSample => ({ type: 'host.sample', at, freeKiB: 1_000_000, dom0: { currentKiB: 500_000, committedKiB: 400_000 }, allocations: { A: 262144 } });

  test('host events in order, reports smoothed per guest, ticks interleaved by time', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const host$ = hot<HostEvent>('-g-h-a-b-s-c-l-d', {
        g: { type: 'guest.appeared', at: 1, id: 'A', domid: 1, minKiB: 65536, maxKiB: 262144, currentKiB: 131072, shares: 1 },
        h: { type: 'agent.hello', at: 3, id: 'A', protocol: 1, selfAdjust: true },
        a: report('A', LOW, 5),
        b: report('A', LOW, 7),
        s: sample(9),
        c: report('A', HIGH, 11), // a burst: smoothed to LOW
        l: left('A', 13),
        d: report('A', HIGH, 15), // A again, a fresh window
      });
      const out$ = supervisorInputs(host$, { tickMs: 6, scheduler: ts, smoothing: OPTS, reportMinIntervalMs: 0, reportBatchMs: 0 });
      expectObservable(out$, '^ 16ms !').toBe('-g-h-atb-s-cuI-d', {
        g: { type: 'guest.appeared', at: 1, id: 'A', domid: 1, minKiB: 65536, maxKiB: 262144, currentKiB: 131072, shares: 1 },
        h: { type: 'agent.hello', at: 3, id: 'A', protocol: 1, selfAdjust: true },
        a: batch(5, report('A', LOW)),
        t: tick(6),
        b: batch(7, report('A', LOW)),
        s: sample(9),
        c: batch(11, report('A', LOW)),
        u: tick(12),
        I: left('A', 13),
        d: batch(15, report('A', HIGH)),
      } as Record<string, SupervisorInput>);
    });
  });

  test('a flooding agent is rate-limited per guest without delaying a normal one, and never starved', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      // A reports every frame (a flood); B once. Limit: one per 4 frames, leading and trailing.
      const host$ = hot<HostEvent>('abcdefghij', {
        a: report('A', LOW, 0), b: report('B', LOW, 1), c: report('A', LOW + 1, 2), d: report('A', LOW + 2, 3),
        e: report('A', LOW + 3, 4), f: report('A', LOW + 4, 5), g: report('A', LOW + 5, 6), h: report('A', LOW + 6, 7),
        i: report('A', LOW + 7, 8), j: report('A', LOW + 8, 9),
      });
      const out$ = supervisorInputs(host$, { tickMs: 1000, scheduler: ts, smoothing: OPTS, reportMinIntervalMs: 4, reportBatchMs: 0 });
      // A: leading at 0, trailing (latest) at 4, then 8, ...; B passes at once.
      expectObservable(out$, '^ 10ms !').toBe('ab--e---i-', {
        a: batch(0, report('A', LOW)),
        b: batch(1, report('B', LOW)),
        e: batch(4, report('A', LOW + 3)),
        i: batch(8, report('A', LOW + 7)),
      });
    });
  });

  test('a trailing rate-limited report is dropped when its guest leaves', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const host$ = hot<HostEvent>('ab-l----', { a: report('A', LOW, 0), b: report('A', LOW, 1), l: left('A', 3) });
      const out$ = supervisorInputs(host$, { tickMs: 1000, scheduler: ts, smoothing: OPTS, reportMinIntervalMs: 5, reportBatchMs: 0 });
      expectObservable(out$, '^ 8ms !').toBe('a--l----', { a: batch(0, report('A', LOW)), l: left('A', 3) });
    });
  });

  test('a synchronous host loses nothing (every branch is subscribed before the host is)', async () => {
    const events: HostEvent[] = [report('A', LOW, 1), sample(2), report('A', HIGH, 3), left('A', 4)];
    // The default batch window: each batch is delivered when the next input comes through.
    const out = await firstValueFrom(supervisorInputs(of(...events), { tickMs: 1000, smoothing: OPTS, reportMinIntervalMs: 0 }).pipe(take(4), toArray()));
    assert.deepEqual(out, [batch(1, report('A', LOW)), sample(2), batch(3, report('A', LOW)), left('A', 4)]);
  });

  test('effect failures are merged in', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const host$ = hot<HostEvent>('--');
      const effects$ = hot('-f', { f: { type: 'effect.failed' as const, at: 1, id: 'A', effect: 'setTarget' as const, error: 'EACCES' } });
      expectObservable(supervisorInputs(host$, { tickMs: 1000, scheduler: ts, effects$ }), '^ 2ms !').toBe('-f', {
        f: { type: 'effect.failed', at: 1, id: 'A', effect: 'setTarget', error: 'EACCES' },
      });
    });
  });
});

describe('batchReports', () => {
  const W = 4;

  test('reports within one window become one input, delivered when the window closes', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      // A window opens at the first report (frame 1) and closes W frames later (frame 5).
      const src = hot<HostEvent>('-ab-c-----d', { a: report('A', LOW, 1), b: report('B', HIGH, 2), c: report('C', LOW, 4), d: report('A', HIGH, 10) });
      expectObservable(src.pipe(batchReports(W, ts)), '^ 16ms !').toBe('-----x--------y', {
        x: batch(4, report('A', LOW), report('B', HIGH), report('C', LOW)),
        y: batch(10, report('A', HIGH)),
      });
    });
  });

  test('any other input delivers the open batch first: order is kept, and nothing waits behind a tick', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent | Tick>('-ab-t-----l', { a: report('A', LOW, 1), b: report('B', LOW, 2), t: tick(4), l: left('A', 10) });
      expectObservable(src.pipe(batchReports(W, ts)), '^ 12ms !').toBe('----(xt)--l', {
        x: batch(2, report('A', LOW), report('B', LOW)),
        t: tick(4),
        l: left('A', 10),
      });
    });
  });

  test('a guest that reports twice in a window keeps its place and its latest figures', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('-abc', { a: report('A', LOW, 1), b: report('B', LOW, 2), c: report('A', HIGH, 3) });
      expectObservable(src.pipe(batchReports(W, ts)), '^ 8ms !').toBe('-----x', { x: batch(3, report('A', HIGH), report('B', LOW)) });
    });
  });

  test('an empty stretch costs no timer and emits nothing; completion delivers the open batch', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('---------a-|', { a: report('A', LOW, 9) });
      expectObservable(src.pipe(batchReports(W, ts))).toBe('-----------(x|)', { x: batch(9, report('A', LOW)) });
    });
    assert.equal(ts.actions.length, 0, 'no timer left scheduled');
  });

  test('window 0: each report is its own batch, at once', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot<HostEvent>('-ab', { a: report('A', LOW, 1), b: report('B', LOW, 2) });
      expectObservable(src.pipe(batchReports(0, ts))).toBe('-ab', { a: batch(1, report('A', LOW)), b: batch(2, report('B', LOW)) });
    });
  });

  test('the default window in the composed stream', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const host$ = hot<HostEvent>('-ab', { a: report('A', LOW, 1), b: report('B', LOW, 2) });
      const out$ = supervisorInputs(host$, { tickMs: 1000, scheduler: ts, smoothing: OPTS, reportMinIntervalMs: 0 });
      expectObservable(out$, '^ 10ms !').toBe(`- ${REPORT_BATCH_MS}ms x`, { x: batch(2, report('A', LOW), report('B', LOW)) });
    });
  });

  test('refuses a negative window', () => {
    assert.throws(() => batchReports(-1, scheduler()), /report batch window/);
  });
});

describe('limitRate', () => {
  test('an agent at its rate passes at once and leaves no timer behind', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable, flush }) => {
      const src = hot('a---b---c', { a: 1, b: 2, c: 3 });
      expectObservable(src.pipe(limitRate(4, ts))).toBe('a---b---c', { a: 1, b: 2, c: 3 });
      flush();
      assert.equal(ts.actions.length, 0, 'no timer scheduled');
    });
  });

  test('a flood yields its first value at once, then the latest one per interval', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot('abcdefg----', { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 });
      // a at 0; b-d held, d (latest) at 4 with e arriving there (e is newer: e passes); f, g held, g at 8.
      expectObservable(src.pipe(limitRate(4, ts))).toBe('a---e---g--', { a: 1, e: 5, g: 7 });
    });
  });

  test('a held value still goes out when the source completes', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot('ab|', { a: 1, b: 2 });
      expectObservable(src.pipe(limitRate(4, ts))).toBe('a---(b|)', { a: 1, b: 2 });
    });
  });

  test('refuses a negative interval', () => {
    assert.throws(() => limitRate(-1, scheduler()), /rate limit interval/);
  });
});
