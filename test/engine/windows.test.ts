// Tumbling and sliding windows through the production window operator, driven by the operator test harness.
import { describe, expect, it } from 'vitest';

import { OperatorTestHarness, OutputTag, session, sliding, subtaskForKey, tumbling, type DataStream } from '../../runtime/index.js';

interface Trade {
  readonly symbol: string;
  readonly at: number;
  readonly qty: number;
}

const count = { createAccumulator: () => 0, add: (_: Trade, n: number) => n + 1, getResult: (n: number) => n };
const mergingCount = { ...count, merge: (earlier: number, later: number) => earlier + later };
const LATE = new OutputTag<Trade>('late');

/** A window step keyed by symbol that emits { key, start, end, count }. */
function windowStep(assigner = tumbling('60s'), delay: string | number = 0) {
  return (input: DataStream<Trade>) =>
    input
      .keyBy('by-symbol', (t) => t.symbol)
      .window(assigner, { delay, lateCounter: 'late_dropped' })
      .sideOutputLateData(LATE)
      .aggregate<number, number, { key: string; start: number; end: number; count: number }>('count', mergingCount, {
        process(key: string, n: number, ctx, out) {
          out.collect({ key, start: ctx.window.start, end: ctx.window.end, count: n });
        },
      });
}

function trade(symbol: string, at: number, qty = 1): Trade {
  return { symbol, at, qty };
}

describe('window assigners', () => {
  it('aligns tumbling windows to the epoch, for negative timestamps too', () => {
    const assigner = tumbling('60s');
    expect(assigner.assign(0)).toEqual([{ start: 0, end: 60_000 }]);
    expect(assigner.assign(59_999)).toEqual([{ start: 0, end: 60_000 }]);
    expect(assigner.assign(60_000)).toEqual([{ start: 60_000, end: 120_000 }]);
    expect(assigner.assign(1_700_000_012_345)).toEqual([{ start: 1_699_999_980_000, end: 1_700_000_040_000 }]);
    expect(assigner.assign(-1)).toEqual([{ start: -60_000, end: 0 }]);
    expect(assigner.assign(-60_000)).toEqual([{ start: -60_000, end: 0 }]);
    expect(assigner.assign(-60_001)).toEqual([{ start: -120_000, end: -60_000 }]);
  });

  it('puts a timestamp in every sliding window whose [start, end) holds it, in ascending order', () => {
    const assigner = sliding('30s', '10s');
    expect(assigner.assign(25_000)).toEqual([
      { start: 0, end: 30_000 },
      { start: 10_000, end: 40_000 },
      { start: 20_000, end: 50_000 },
    ]);
    expect(assigner.assign(20_000)).toEqual([
      { start: 0, end: 30_000 },
      { start: 10_000, end: 40_000 },
      { start: 20_000, end: 50_000 },
    ]);
    expect(assigner.assign(-5_000)).toEqual([
      { start: -30_000, end: 0 },
      { start: -20_000, end: 10_000 },
      { start: -10_000, end: 20_000 },
    ]);
  });

  it('gives sliding windows exactly the members a brute-force check finds', () => {
    const assigner = sliding(50, 20);
    for (let t = -200; t <= 200; t++) {
      const expected: Array<{ start: number; end: number }> = [];
      for (let start = -400; start <= 400; start += 20) if (start <= t && t < start + 50) expected.push({ start, end: start + 50 });
      expect(assigner.assign(t)).toEqual(expected);
    }
  });

  it('handles a slide longer than the size (gaps between windows)', () => {
    const assigner = sliding(10, 30);
    expect(assigner.assign(5)).toEqual([{ start: 0, end: 10 }]);
    expect(assigner.assign(15)).toEqual([]);
  });

  it('rejects windows of size zero', () => {
    expect(() => tumbling(0)).toThrow('tumbling window size must be > 0');
    expect(() => sliding('10s', 0)).toThrow('sliding window size and slide must be > 0');
  });
});

describe('window operator', () => {
  it('fires a tumbling window once the watermark reaches its end, and only once', async () => {
    const harness = await OperatorTestHarness.create(windowStep());
    harness.processElement(trade('BTC', 1_000), 1_000).processElement(trade('BTC', 59_999), 59_999).processElement(trade('ETH', 30_000), 30_000);
    harness.processWatermark(59_999);
    expect(harness.outputValues()).toEqual([]);
    harness.processWatermark(60_000);
    expect(harness.outputValues()).toEqual([
      { key: 'BTC', start: 0, end: 60_000, count: 2 },
      { key: 'ETH', start: 0, end: 60_000, count: 1 },
    ]);
    harness.processWatermark(120_000);
    await harness.endInput();
    expect(harness.outputValues()).toHaveLength(2);
  });

  it('stamps a fired window result with its last millisecond as event time', async () => {
    const harness = await OperatorTestHarness.create(windowStep());
    harness.processElement(trade('BTC', 5), 5).processWatermark(60_000);
    expect(harness.output[0]!.timestamp).toBe(59_999);
  });

  it('fires only when the watermark minus the delay reaches the window end', async () => {
    const harness = await OperatorTestHarness.create(windowStep(tumbling('60s'), '10s'));
    harness.processElement(trade('BTC', 1_000), 1_000);
    harness.processWatermark(69_999);
    expect(harness.outputValues()).toEqual([]);
    expect(harness.outputWatermark).toBe(59_999);
    harness.processWatermark(70_000);
    expect(harness.outputValues()).toEqual([{ key: 'BTC', start: 0, end: 60_000, count: 1 }]);
    expect(harness.outputWatermark).toBe(60_000);
  });

  it('sends a record whose window already fired to the late side output and counts it', async () => {
    const harness = await OperatorTestHarness.create(windowStep(tumbling('60s'), '10s'));
    harness.processElement(trade('BTC', 1_000), 1_000).processWatermark(70_000);
    const late = trade('BTC', 59_000);
    harness.processElement(late, 59_000);
    harness.processElement(trade('BTC', 60_000), 60_000); // the next window is still open
    expect(harness.sideOutput(LATE)).toEqual([late]);
    expect(harness.sideOutputRecords(LATE)[0]!.timestamp).toBe(59_000);
    expect(harness.counters()).toEqual({ late_dropped: 1 });
    await harness.endInput();
    expect(harness.outputValues()).toEqual([
      { key: 'BTC', start: 0, end: 60_000, count: 1 },
      { key: 'BTC', start: 60_000, end: 120_000, count: 1 },
    ]);
  });

  it('treats a record as late exactly when its window end is at or below watermark minus delay', async () => {
    const harness = await OperatorTestHarness.create(windowStep(tumbling(100), 30));
    harness.processWatermark(130); // window [0,100) is complete: 130 - 30 >= 100
    harness.processElement(trade('A', 99), 99);
    harness.processElement(trade('A', 100), 100);
    expect(harness.sideOutput(LATE).map((t) => t.at)).toEqual([99]);
    const notYet = await OperatorTestHarness.create(windowStep(tumbling(100), 30));
    notYet.processWatermark(129);
    notYet.processElement(trade('A', 0), 0);
    expect(notYet.sideOutput(LATE)).toEqual([]);
  });

  it('counts a sliding-window record late only when every one of its windows has fired', async () => {
    const harness = await OperatorTestHarness.create(windowStep(sliding(30, 10)));
    harness.processWatermark(25); // windows ending at or before 25 fired: [-10,20) ... ends 20
    harness.processElement(trade('A', 12), 12); // windows [-10,20) fired, [0,30) and [10,40) open
    harness.processElement(trade('A', 5), 5); // windows [-20,10), [-10,20) fired, [0,30) open
    harness.processElement(trade('A', -1), -1); // [-30,0), [-20,10), [-10,20): all fired
    expect(harness.sideOutput(LATE).map((t) => t.at)).toEqual([-1]);
    await harness.endInput();
    expect(harness.outputValues()).toEqual([
      { key: 'A', start: 0, end: 30, count: 2 },
      { key: 'A', start: 10, end: 40, count: 1 },
    ]);
  });

  it('fires sliding windows in order of their end, each with its own members', async () => {
    const harness = await OperatorTestHarness.create(windowStep(sliding(20, 10)));
    for (const at of [1, 11, 21]) harness.processElement(trade('A', at), at);
    await harness.endInput();
    expect(harness.outputValues()).toEqual([
      { key: 'A', start: -10, end: 10, count: 1 },
      { key: 'A', start: 0, end: 20, count: 2 },
      { key: 'A', start: 10, end: 30, count: 2 },
      { key: 'A', start: 20, end: 40, count: 1 },
    ]);
  });

  it('fires every open window at the end of a bounded input', async () => {
    const harness = await OperatorTestHarness.create(windowStep());
    harness.processElement(trade('A', -61_000), -61_000).processElement(trade('B', 1e12), 1e12);
    await harness.endInput();
    expect(harness.outputValues()).toEqual([
      { key: 'A', start: -120_000, end: -60_000, count: 1 },
      { key: 'B', start: 1e12 - (1e12 % 60_000), end: 1e12 - (1e12 % 60_000) + 60_000, count: 1 },
    ]);
  });

  it('reduces and aggregates without a window function, emitting the bare result', async () => {
    const harness = await OperatorTestHarness.create((input: DataStream<Trade>) =>
      input.keyBy('k', (t) => t.symbol).window(tumbling(10)).reduce('sum', (a, b) => ({ ...a, qty: a.qty + b.qty })),
    );
    harness.processElement(trade('A', 1, 2), 1).processElement(trade('A', 2, 5), 2).processWatermark(10);
    expect(harness.output).toEqual([{ value: { symbol: 'A', at: 1, qty: 7 }, timestamp: 9 }]);
  });

  it('keeps every element for window process functions', async () => {
    const harness = await OperatorTestHarness.create((input: DataStream<Trade>) =>
      input.keyBy('k', (t) => t.symbol).window(tumbling(10)).process('list', {
        process(key, items: Trade[], _ctx, out) {
          out.collect(`${key}:${items.map((t) => t.at).join(',')}`);
        },
      }),
    );
    for (const at of [3, 1, 2]) harness.processElement(trade('A', at), at);
    await harness.endInput();
    expect(harness.outputValues()).toEqual(['A:3,1,2']);
  });

  it('restores open windows and the window watermark from a snapshot, at another parallelism', async () => {
    const keys = ['A', 'B', 'C', 'D', 'E', 'F'];
    const first = await OperatorTestHarness.create(windowStep());
    for (const key of keys) first.processElement(trade(key, 10), 10);
    first.processWatermark(60_000 + 5); // window [0,60s) fired for every key
    for (const key of keys) first.processElement(trade(key, 70_000), 70_000);
    const snapshot = first.snapshot();

    const restored: unknown[] = [];
    let late = 0;
    for (const subtaskIndex of [0, 1]) {
      const harness = await OperatorTestHarness.create(windowStep(), { parallelism: 2, subtaskIndex, restoreFrom: [snapshot] });
      // Late: the window of 1s fired before the snapshot, and the restored operator remembers it.
      for (const key of keys) if (subtaskForKey(key, 2, 128) === subtaskIndex) harness.processElement(trade(key, 1_000), 1_000);
      await harness.endInput();
      restored.push(...harness.outputValues());
      late += harness.counters().late_dropped ?? 0;
    }
    expect(late).toBe(keys.length);
    expect(restored).toHaveLength(keys.length);
    expect(new Set(restored.map((r) => (r as { key: string }).key))).toEqual(new Set(keys));
    for (const row of restored) expect(row).toMatchObject({ start: 60_000, count: 1 });
  });
});

describe('session windows', () => {
  it('opens [t, t + gap) per record and merges the windows of a key that overlap or touch', () => {
    const assigner = session('10s');
    expect(assigner.assign(5_000)).toEqual([{ start: 5_000, end: 15_000 }]);
    expect(assigner.sessionGapMs).toBe(10_000);
    expect(() => session(0)).toThrow(/session gap must be > 0/);
  });

  it('ends a session after a gap without records of its key, and fires it when the watermark reaches its end', async () => {
    const harness = await OperatorTestHarness.create(windowStep(session(10)));
    for (const at of [0, 5, 12]) harness.processElement(trade('A', at), at); // [0,10) [5,15) [12,22): one session
    harness.processElement(trade('B', 3), 3);
    harness.processElement(trade('A', 40), 40); // 18 after the last: a new session
    harness.processWatermark(21);
    expect(harness.outputValues()).toEqual([{ key: 'B', start: 3, end: 13, count: 1 }]);
    harness.processWatermark(22);
    expect(harness.outputValues()).toEqual([
      { key: 'B', start: 3, end: 13, count: 1 },
      { key: 'A', start: 0, end: 22, count: 3 },
    ]);
    await harness.endInput();
    expect(harness.outputValues().at(-1)).toEqual({ key: 'A', start: 40, end: 50, count: 1 });
  });

  it('merges two sessions that a record arriving out of order bridges, and a record exactly a gap later', async () => {
    const harness = await OperatorTestHarness.create(windowStep(session(10)));
    harness.processElement(trade('A', 0), 0).processElement(trade('A', 25), 25); // [0,10) and [25,35)
    harness.processElement(trade('A', 14), 14); // [14,24) touches neither: three sessions
    harness.processElement(trade('A', 10), 10); // [10,20) touches [0,10) and overlaps [14,24)
    harness.processElement(trade('A', 35), 35); // [35,45) touches the end of [25,35): merged, as in Flink
    harness.processElement(trade('A', 56), 56); // 11 after the last record: a session of its own
    await harness.endInput();
    expect(harness.outputValues()).toEqual([
      { key: 'A', start: 0, end: 24, count: 3 },
      { key: 'A', start: 25, end: 45, count: 2 },
      { key: 'A', start: 56, end: 66, count: 1 },
    ]);
  });

  it('counts a record late only when it joins no open session and its own window has ended', async () => {
    const harness = await OperatorTestHarness.create(windowStep(session(10), 5));
    harness.processElement(trade('A', 100), 100); // [100,110)
    harness.processWatermark(113); // window watermark 108: nothing fires
    harness.processElement(trade('A', 95), 95); // [95,105) ended, but it overlaps the open session: in
    harness.processElement(trade('B', 90), 90); // [90,100) ended and B has no session: late
    expect(harness.sideOutput(LATE)).toEqual([trade('B', 90)]);
    harness.processWatermark(115);
    expect(harness.outputValues()).toEqual([{ key: 'A', start: 95, end: 110, count: 2 }]);
    harness.processElement(trade('A', 99), 99); // its session fired: late now
    await harness.endInput();
    expect(harness.counters()).toEqual({ late_dropped: 2 });
    expect(harness.outputValues()).toHaveLength(1);
  });

  it('reduces and keeps the elements of a merged session, earlier session first', async () => {
    const reduced = await OperatorTestHarness.create((input: DataStream<Trade>) =>
      input.keyBy('k', (t) => t.symbol).window(session(10)).reduce('sum', (a, b) => ({ ...a, qty: a.qty + b.qty })),
    );
    reduced.processElement(trade('A', 0, 2), 0).processElement(trade('A', 30, 5), 30).processElement(trade('A', 8, 1), 8);
    await reduced.endInput();
    expect(reduced.outputValues()).toEqual([{ symbol: 'A', at: 0, qty: 3 }, { symbol: 'A', at: 30, qty: 5 }]);

    const listed = await OperatorTestHarness.create((input: DataStream<Trade>) =>
      input.keyBy('k', (t) => t.symbol).window(session(10)).process('list', {
        process(key, items: Trade[], ctx, out) {
          out.collect(`${key}[${ctx.window.start},${ctx.window.end}):${items.map((t) => t.at).join(',')}`);
        },
      }),
    );
    for (const at of [20, 0, 9]) listed.processElement(trade('A', at), at); // [9,19) merges with [0,10) only
    listed.processElement(trade('A', 19), 19); // [19,29) touches [0,19) and [20,30)
    await listed.endInput();
    expect(listed.outputValues()).toEqual(['A[0,30):0,9,20,19']);
  });

  it('refuses an aggregate without merge on session windows, naming the step', async () => {
    await expect(
      OperatorTestHarness.create((input: DataStream<Trade>) => input.keyBy('k', (t) => t.symbol).window(session(10)).aggregate('count', count)),
    ).rejects.toThrow(/"count": session windows merge, so its aggregate needs a merge\(earlier, later\)/);
  });

  it('restores open sessions at another parallelism and merges later records into them', async () => {
    const keys = ['A', 'B', 'C', 'D', 'E', 'F'];
    const first = await OperatorTestHarness.create(windowStep(session(100)));
    for (const key of keys) first.processElement(trade(key, 0), 0).processElement(trade(key, 300), 300);
    first.processWatermark(150); // the sessions [0,100) fired
    const snapshot = first.snapshot();

    const restored: unknown[] = [];
    for (const subtaskIndex of [0, 1]) {
      const harness = await OperatorTestHarness.create(windowStep(session(100)), { parallelism: 2, subtaskIndex, restoreFrom: [snapshot] });
      for (const key of keys) {
        if (subtaskForKey(key, 2, 128) !== subtaskIndex) continue;
        harness.processElement(trade(key, 50), 50); // [50,150) ended at the restored watermark: late
        harness.processElement(trade(key, 380), 380); // joins the restored [300,400)
      }
      await harness.endInput();
      expect(harness.counters().late_dropped ?? 0).toBe(keys.filter((key) => subtaskForKey(key, 2, 128) === subtaskIndex).length);
      restored.push(...harness.outputValues());
    }
    expect(restored).toHaveLength(keys.length);
    for (const row of restored) expect(row).toMatchObject({ start: 300, end: 480, count: 2 });
  });
});

describe('window global state with a time to live', () => {
  /** Counts each key's fired windows in its globalState; the count restarts only if that state was dropped. */
  function firesPerKey(globalStateTtl?: string | number) {
    return (input: DataStream<Trade>) =>
      input
        .keyBy('by-symbol', (t) => t.symbol)
        .window(tumbling('60s'), globalStateTtl === undefined ? {} : { globalStateTtl })
        .aggregate<number, number, string>('count', count, {
          process(key, _n, ctx, out) {
            const fires = ctx.globalState.valueState<number>('fires');
            fires.update((fires.value() ?? 0) + 1);
            out.collect(`${key}@${ctx.window.start}:${fires.value()}`);
          },
        });
  }
  /** Keys that hold global state in a snapshot of the step. */
  function keysWithGlobalState(snapshot: { keyGroups: Record<number, unknown> }): string[] {
    const keys: string[] = [];
    for (const group of Object.values(snapshot.keyGroups) as Array<{ global: Record<string, Array<[string, unknown]>> }>) {
      for (const rows of Object.values(group.global)) keys.push(...rows.map(([key]) => key));
    }
    return keys.sort();
  }

  it('keeps a key\'s global state forever without a time to live', async () => {
    const harness = await OperatorTestHarness.create(firesPerKey());
    harness.processElement(trade('A', 1_000), 1_000).processElement(trade('B', 1_000), 1_000).processWatermark(60_000);
    harness.processElement(trade('B', 10 * 3_600_000), 10 * 3_600_000).processWatermark(10 * 3_600_000 + 60_000);
    expect(keysWithGlobalState(harness.snapshot())).toEqual(['A', 'B']);
  });

  it('drops a key\'s global state once its newest fired window ended the time to live before the window watermark', async () => {
    const harness = await OperatorTestHarness.create(firesPerKey('2m'));
    harness.processElement(trade('A', 1_000), 1_000).processElement(trade('B', 1_000), 1_000).processWatermark(60_000);
    harness.processElement(trade('B', 61_000), 61_000).processWatermark(179_999); // B fired again at 120 s
    expect(keysWithGlobalState(harness.snapshot())).toEqual(['A', 'B']); // A: 60 s + 2 m > 179.999 s
    harness.processWatermark(180_000);
    expect(keysWithGlobalState(harness.snapshot())).toEqual(['B']);
    harness.processElement(trade('A', 200_000), 200_000).processWatermark(240_000);
    harness.processWatermark(240_000 + 120_000);
    expect(harness.outputValues()).toEqual(['A@0:1', 'B@0:1', 'B@60000:2', 'A@180000:1']);
    expect(keysWithGlobalState(harness.snapshot())).toEqual([]);
  });

  it('keeps the clean-up across a snapshot restored at another parallelism', async () => {
    const keys = ['A', 'B', 'C', 'D', 'E', 'F'];
    const first = await OperatorTestHarness.create(firesPerKey('5m'));
    for (const key of keys) first.processElement(trade(key, 1_000), 1_000);
    first.processWatermark(60_000);
    first.processElement(trade('A', 61_000), 61_000).processWatermark(120_000); // A fired last at 120 s, the rest at 60 s
    const snapshot = first.snapshot();
    const left: string[] = [];
    for (const subtaskIndex of [0, 1]) {
      const harness = await OperatorTestHarness.create(firesPerKey('5m'), { parallelism: 2, subtaskIndex, restoreFrom: [snapshot] });
      harness.processWatermark(360_000); // 60 s + 5 m: all but A expire
      left.push(...keysWithGlobalState(harness.snapshot()));
    }
    expect(left).toEqual(['A']);
  });

  it('refuses a time to live that is not a duration', async () => {
    await expect(OperatorTestHarness.create(firesPerKey('soon'))).rejects.toThrow(/globalStateTtl/);
  });
});
