// Keyed process functions through the production operator: state per key, event- and processing-time timers
// in timestamp order, side outputs, two inputs, and state that survives a snapshot and a change of parallelism.
import { describe, expect, it } from 'vitest';

import {
  OperatorTestHarness,
  OutputTag,
  subtaskForKey,
  type DataStream,
  type KeyedProcessFunction,
  type MapState,
  type ValueState,
} from '../../runtime/index.js';

interface Event {
  readonly key: string;
  readonly amount: number;
}

const BIG = new OutputTag<Event>('big');

/** Sums amounts per key; an event-time timer 10 ms after each record emits the running sum. */
function summing(): KeyedProcessFunction<Event, string> {
  let sum!: ValueState<number>;
  return {
    open(ctx) {
      sum = ctx.state.valueState<number>('sum');
    },
    processElement(event, ctx, out) {
      sum.update((sum.value() ?? 0) + event.amount);
      if (event.amount > 100) ctx.output(BIG, event);
      if (ctx.timestamp !== null) ctx.timerService.registerEventTimeTimer(ctx.timestamp + 10);
      out.collect(`${ctx.key} got ${event.amount}`);
    },
    onTimer(timestamp, ctx, out) {
      out.collect(`${ctx.key}@${timestamp}=${sum.value()}`);
    },
  };
}

const build = (input: DataStream<Event>) => input.keyBy('by-key', (e) => e.key).process('sum', summing());

describe('keyed process operator', () => {
  it('keeps state per key and emits with the record timestamp', async () => {
    const harness = await OperatorTestHarness.create(build);
    harness.processElement({ key: 'a', amount: 1 }, 100).processElement({ key: 'b', amount: 5 }, 101).processElement({ key: 'a', amount: 2 }, 102);
    expect(harness.output).toEqual([
      { value: 'a got 1', timestamp: 100 },
      { value: 'b got 5', timestamp: 101 },
      { value: 'a got 2', timestamp: 102 },
    ]);
    harness.clearOutput().processWatermark(1_000);
    expect(harness.outputValues()).toEqual(['a@110=3', 'b@111=5', 'a@112=3']);
  });

  it('fires event-time timers in timestamp order as the watermark passes them, each once', async () => {
    const harness = await OperatorTestHarness.create(build);
    for (const [key, at] of [['x', 50], ['y', 20], ['x', 30], ['z', 40], ['x', 30]] as const) harness.processElement({ key, amount: 1 }, at);
    harness.clearOutput();
    harness.processWatermark(45);
    expect(harness.outputValues()).toEqual(['y@30=1', 'x@40=3']);
    harness.processWatermark(45); // not rising: nothing more
    expect(harness.outputValues()).toEqual(['y@30=1', 'x@40=3']);
    harness.processWatermark(59);
    expect(harness.outputValues()).toEqual(['y@30=1', 'x@40=3', 'z@50=1']);
    harness.processWatermark(60);
    expect(harness.outputValues().slice(3)).toEqual(['x@60=3']);
  });

  it('hands the timer timestamp and key to onTimer, and forwards the watermark', async () => {
    const harness = await OperatorTestHarness.create(build);
    harness.processElement({ key: 'k', amount: 7 }, 5).clearOutput().processWatermark(15);
    expect(harness.output).toEqual([{ value: 'k@15=7', timestamp: 15 }]);
    expect(harness.outputWatermark).toBe(15);
  });

  it('routes records to a side output', async () => {
    const harness = await OperatorTestHarness.create(build);
    harness.processElement({ key: 'a', amount: 500 }, 1).processElement({ key: 'a', amount: 5 }, 2);
    expect(harness.sideOutput(BIG)).toEqual([{ key: 'a', amount: 500 }]);
  });

  it('never fires a deleted timer', async () => {
    const harness = await OperatorTestHarness.create((input: DataStream<Event>) =>
      input.keyBy('k', (e) => e.key).process<string>('cancel', {
        processElement(event, ctx) {
          if (event.amount > 0) ctx.timerService.registerEventTimeTimer(event.amount);
          else ctx.timerService.deleteEventTimeTimer(-event.amount);
        },
        onTimer(ts, ctx, out) {
          out.collect(`${ctx.key}:${ts}`);
        },
      }),
    );
    harness.processElement({ key: 'a', amount: 10 }).processElement({ key: 'b', amount: 10 }).processElement({ key: 'a', amount: 20 });
    harness.processElement({ key: 'a', amount: -10 });
    harness.processWatermark(100);
    expect(harness.outputValues()).toEqual(['b:10', 'a:20']);
  });

  it('fires processing-time timers from the harness clock, which is also what Date.now() returns', async () => {
    const harness = await OperatorTestHarness.create(
      (input: DataStream<Event>) =>
        input.keyBy('k', (e) => e.key).process<string>('timeout', {
          processElement(event, ctx) {
            ctx.timerService.registerProcessingTimeTimer(ctx.timerService.currentProcessingTime() + event.amount);
          },
          onTimer(ts, ctx, out) {
            out.collect(`${ctx.key} ${ctx.timeDomain} ${ts} now=${Date.now()} timestamp=${ctx.timestamp}`);
          },
        }),
      { processingTime: 1_000 },
    );
    harness.processElement({ key: 'a', amount: 500 }).processElement({ key: 'b', amount: 100 });
    harness.setProcessingTime(1_099);
    expect(harness.outputValues()).toEqual([]);
    harness.setProcessingTime(1_600);
    expect(harness.outputValues()).toEqual(['b processing-time 1100 now=1600 timestamp=null', 'a processing-time 1500 now=1600 timestamp=null']);
    expect(() => harness.setProcessingTime(10)).toThrow('processing time cannot go back');
  });

  it('runs both inputs of a co-process function under the key of each record', async () => {
    const harness = await OperatorTestHarness.createTwoInput((orders: DataStream<Event>, prices: DataStream<{ sym: string; price: number }>) =>
      orders
        .keyBy('orders-by-key', (e) => e.key)
        .connect(prices.keyBy('prices-by-sym', (p) => p.sym))
        .process<string>('join', {
          open(ctx) {
            (this as unknown as { price: ValueState<number> }).price = ctx.state.valueState<number>('price');
          },
          processElement1(order, ctx, out) {
            const price = (this as unknown as { price: ValueState<number> }).price.value();
            out.collect(`${ctx.key}: ${order.amount} x ${price ?? '?'}`);
          },
          processElement2(quote) {
            (this as unknown as { price: ValueState<number> }).price.update(quote.price);
          },
        }),
    );
    harness.processElement({ key: 'BTC', amount: 2 });
    harness.processElement2({ sym: 'BTC', price: 100 });
    harness.processElement({ key: 'BTC', amount: 3 }).processElement({ key: 'ETH', amount: 1 });
    expect(harness.outputValues()).toEqual(['BTC: 2 x ?', 'BTC: 3 x 100', 'ETH: 1 x ?']);
  });

  it('restores state and pending timers from a snapshot and splits them between new subtasks', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    const original = await OperatorTestHarness.create(build);
    keys.forEach((key, i) => original.processElement({ key, amount: i + 1 }, 1_000 + i));
    const snapshot = original.snapshot();
    original.processWatermark(Number.POSITIVE_INFINITY);
    const expected = original.outputValues().filter((v) => v.includes('@')).sort();

    const fired: string[] = [];
    for (let subtaskIndex = 0; subtaskIndex < 3; subtaskIndex++) {
      const harness = await OperatorTestHarness.create(build, { parallelism: 3, subtaskIndex, restoreFrom: [snapshot] });
      harness.processWatermark(Number.POSITIVE_INFINITY);
      for (const value of harness.outputValues()) {
        const key = value.split('@')[0]!;
        expect(subtaskForKey(key, 3, 128)).toBe(subtaskIndex);
        fired.push(value);
      }
    }
    expect(fired.sort()).toEqual(expected);
    expect(fired).toHaveLength(keys.length);
  });

  it('takes snapshots that are copies, unaffected by later records', async () => {
    const harness = await OperatorTestHarness.create(build);
    harness.processElement({ key: 'a', amount: 1 }, 1);
    const snapshot = harness.snapshot();
    harness.processElement({ key: 'a', amount: 100 }, 2);
    const restored = await OperatorTestHarness.create(build, { restoreFrom: [snapshot] });
    restored.processWatermark(1_000);
    expect(restored.outputValues()).toEqual(['a@11=1']);
  });
});

describe('a state name changed to another kind of state', () => {
  /** The summing step with its state named `sum` as a MapState instead of a ValueState. */
  const summingIntoMap = (input: DataStream<Event>) =>
    input.keyBy('by-key', (e) => e.key).process('sum', {
      open(ctx) {
        sum = ctx.state.mapState<string, number>('sum');
      },
      processElement(event: Event) {
        sum.put('total', (sum.get('total') ?? 0) + event.amount);
      },
    });
  let sum!: MapState<string, number>;

  it('refuses to restore a ValueState into a MapState of the same name, naming the step and the state', async () => {
    const original = await OperatorTestHarness.create(build);
    original.processElement({ key: 'a', amount: 1 }, 1);
    const snapshot = original.snapshot();
    await expect(OperatorTestHarness.create(summingIntoMap, { restoreFrom: [snapshot] })).rejects.toThrow(
      'step "sum": state "sum" is a ValueState in the checkpoint and a MapState in this job',
    );
  });

  it('refuses one name used for two kinds of state in one step', async () => {
    const harness = OperatorTestHarness.create((input: DataStream<Event>) =>
      input.keyBy('by-key', (e) => e.key).process('both', {
        open(ctx) {
          ctx.state.valueState<number>('n');
          ctx.state.listState<number>('n');
        },
        processElement() {},
      }),
    );
    await expect(harness).rejects.toThrow('state "n" is used both as a ValueState and as a ListState');
  });
});

describe('operator test harness', () => {
  it('refuses a record whose key belongs to another subtask', async () => {
    const key = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => subtaskForKey(k, 2, 128) === 1)!;
    const harness = await OperatorTestHarness.create(build, { parallelism: 2, subtaskIndex: 0 });
    expect(() => harness.processElement({ key, amount: 1 }, 1)).toThrow(`key "${key}" belongs to subtask 1, not to subtask 0`);
  });

  it('tests exactly one step, and says so when given several', async () => {
    await expect(
      OperatorTestHarness.create((input: DataStream<Event>) => input.map('double', (e) => ({ ...e, amount: e.amount * 2 })).keyBy('k', (e) => e.key).process('sum', summing())),
    ).rejects.toThrow('build must return one step applied to its input');
  });

  it('points to the job harness for steps that run on the coordinator', async () => {
    await expect(OperatorTestHarness.create((input: DataStream<Event>) => input.withWatermarks('time', { timestamp: (e) => e.amount }))).rejects.toThrow(
      'runs on the coordinator, not as an operator; test it with JobTestHarness',
    );
  });

  it('checks its placement', async () => {
    await expect(OperatorTestHarness.create(build, { parallelism: 2, subtaskIndex: 2 })).rejects.toThrow('subtaskIndex 2 is not one of the 2 subtasks');
    await expect(OperatorTestHarness.create(build, { parallelism: 4, maxParallelism: 2 })).rejects.toThrow('parallelism (4) must be a whole number');
  });

  it('runs stateless process steps with side outputs and counters', async () => {
    const BAD = new OutputTag<string>('bad');
    const harness = await OperatorTestHarness.create((input: DataStream<string>) =>
      input.process<number>('parse', {
        open(ctx) {
          (this as unknown as { bad: { inc(): void } }).bad = ctx.metrics.counter('bad_lines');
        },
        processElement(line, ctx, out) {
          const n = Number(line);
          if (Number.isNaN(n)) {
            (this as unknown as { bad: { inc(): void } }).bad.inc();
            ctx.output(BAD, line);
          } else out.collect(n);
        },
      }),
    );
    harness.processElement('1').processElement('x').processElement('3', 42);
    expect(harness.output).toEqual([
      { value: 1, timestamp: null },
      { value: 3, timestamp: 42 },
    ]);
    expect(harness.sideOutput(BAD)).toEqual(['x']);
    expect(harness.counters()).toEqual({ bad_lines: 1 });
  });

  it('says when state cannot be snapshotted because it is not plain data', async () => {
    const harness = await OperatorTestHarness.create((input: DataStream<Event>) =>
      input.keyBy('k', (e) => e.key).process<string>('bad-state', {
        open(ctx) {
          (this as unknown as { s: ValueState<unknown> }).s = ctx.state.valueState('fn');
        },
        processElement() {
          (this as unknown as { s: ValueState<unknown> }).s.update(() => 1);
        },
      }),
    );
    harness.processElement({ key: 'a', amount: 1 });
    expect(() => harness.snapshot()).toThrow('state cannot be snapshotted');
  });
});
