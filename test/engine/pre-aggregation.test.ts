// Pre-aggregation of windows in the decode stage: partials instead of records where that cannot change a
// result, records where it could (late or possibly late), and the coordinator's re-decode when a partial
// would arrive after its window fired.
import { describe, expect, it } from 'vitest';

import { JobTestHarness, OutputTag, defineJob, tumbling, sliding, type AggregateFunction, type SinkFactory, type WindowAssigner } from '../../runtime/index.js';
import { DecodeStage } from '../../runtime/exec/decode-stage.js';
import { buildJob } from '../../runtime/graph/job.js';
import { planJob } from '../../runtime/plan/physical-plan.js';
import { createCodec } from '../../runtime/transport/record-codec.js';
import { expectWindows, sortRows, windowTape, type WindowRow, type WindowTrade } from '../e2e/engine-cli-support.js';

interface Sum {
  readonly count: number;
  readonly qty: number;
}

const LATE = new OutputTag<WindowTrade>('late');
const table = (name: string): SinkFactory<unknown> => ({
  name,
  create: () => {
    throw new Error('the harness replaces sinks');
  },
});

const summing: AggregateFunction<WindowTrade, Sum, Sum> & { merge(a: Sum, b: Sum): Sum } = {
  createAccumulator: () => ({ count: 0, qty: 0 }),
  add: (trade, sum) => ({ count: sum.count + 1, qty: sum.qty + trade.qty }),
  getResult: (sum) => sum,
  merge: (a, b) => ({ count: a.count + b.count, qty: a.qty + b.qty }),
};

/** windowTape's job: per symbol, windows with a 5 s delay, late trades on a side output. */
function windowJob(assigner: WindowAssigner, aggregate: AggregateFunction<WindowTrade, Sum, Sum>) {
  return defineJob('pre-aggregated', (env) => {
    const windows = env
      .source('lines')
      .process<WindowTrade>('parse', (raw, _context, out) => {
        try {
          out.collect(JSON.parse(raw.text) as WindowTrade);
        } catch {
          // windowTape's broken lines are not what this test is about
        }
      })
      .withWatermarks('time', { timestamp: (trade) => trade.t })
      .keyBy('by-symbol', (trade) => trade.symbol)
      .window(assigner, { delay: '5s', lateCounter: 'late_dropped' })
      .sideOutputLateData(LATE)
      .aggregate<Sum, Sum, WindowRow>('sum', aggregate, {
        process(symbol, sum, context, out) {
          out.collect({ symbol, start: context.window.start, end: context.window.end, count: sum.count, qty: sum.qty });
        },
      });
    windows.sinkTo('windows', table('windows'));
    windows.getSideOutput(LATE).sinkTo('late', table('late'));
  });
}

const tumblingJob = windowJob(tumbling('10s'), summing);

async function runTape(
  job: ReturnType<typeof windowJob>,
  lines: readonly string[],
  options: { parallelism: number; chunk: number; preAggregate?: boolean },
): Promise<{ rows: WindowRow[]; late: string[]; counters: Record<string, number> }> {
  const harness = await JobTestHarness.create(job, { parallelism: options.parallelism, ...(options.preAggregate === false ? { preAggregate: false } : {}) });
  for (let i = 0; i < lines.length; i += options.chunk) await harness.pipeInput(lines.slice(i, i + options.chunk));
  await harness.finish();
  return {
    rows: sortRows(harness.output<WindowRow>('windows')),
    late: harness.output<WindowTrade>('late').map((trade) => trade.id).sort(),
    counters: harness.counters(),
  };
}

describe('pre-aggregation in the decode stage', () => {
  it('sends one partial per key and window of a chunk instead of its records', async () => {
    const job = buildJob(tumblingJob, { live: false, outputs: {} }, undefined);
    const plan = planJob(job.graph);
    expect(plan.preAggregated).toHaveLength(1);
    const stage = await DecodeStage.create(plan, 1, 128, 'columnar');
    // 300 in-order trades, 3 symbols, all inside the window [0, 10 s).
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `e${i}`, symbol: `S${i % 3}`, t: i * 10, qty: 2 }));
    const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
    const result = stage.decode({ chunkSeq: 0, origin: 'test', payload: { kind: 'lines', bytes, firstOffset: 0 } });
    expect(result.recordsIn).toBe(300);
    expect(result.targets).toHaveLength(1);
    expect(result.targets[0]!.count).toBe(3);
    const partials = createCodec('columnar').decode(result.targets[0]!.records);
    expect(partials).toEqual([
      ['S0', 0, 10_000, { count: 100, qty: 200 }],
      ['S1', 0, 10_000, { count: 100, qty: 200 }],
      ['S2', 0, 10_000, { count: 100, qty: 200 }],
    ]);
    // Late once the watermark reaches the window's end plus the 5 s delay.
    expect(result.partialsFireAt).toBe(15_000);
    // Each partial stands where its last record stood in the ordered stream.
    expect([...result.targets[0]!.orderedIndex]).toEqual([297, 298, 299]);
  });

  it('keeps a record as it is when the chunk itself could make its window late', async () => {
    const plan = planJob(buildJob(tumblingJob, { live: false, outputs: {} }, undefined).graph);
    const stage = await DecodeStage.create(plan, 1, 128, 'columnar');
    const lines = [
      JSON.stringify({ id: 'a', symbol: 'S0', t: 20_000, qty: 1 }),
      JSON.stringify({ id: 'old', symbol: 'S0', t: 1_000, qty: 1 }), // window [0, 10 s) fires at 15 s < 20 s
      JSON.stringify({ id: 'b', symbol: 'S0', t: 21_000, qty: 1 }),
    ];
    const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
    const result = stage.decode({ chunkSeq: 0, origin: 'test', payload: { kind: 'lines', bytes, firstOffset: 0 } });
    const records = createCodec('columnar').decode(result.targets[0]!.records);
    expect(records).toEqual([{ id: 'old', symbol: 'S0', t: 1_000, qty: 1 }, ['S0', 20_000, 30_000, { count: 2, qty: 2 }]]);
    expect(result.partialsFireAt).toBe(35_000);
    // Without pre-aggregation (the coordinator's retry) every record travels.
    const plain = stage.decode({ chunkSeq: 1, origin: 'test', payload: { kind: 'lines', bytes, firstOffset: 0 }, preAggregate: false });
    expect(plain.partialsFireAt).toBeUndefined();
    expect(plain.targets[0]!.count).toBe(3);
  });

  it('sends a partial before the first record that could fire its window, and keeps that window\'s stragglers as records', async () => {
    const plan = planJob(buildJob(tumblingJob, { live: false, outputs: {} }, undefined).graph);
    const stage = await DecodeStage.create(plan, 1, 128, 'columnar');
    const lines = [
      JSON.stringify({ id: 'x1', symbol: 'S0', t: 1_000, qty: 1 }),
      JSON.stringify({ id: 'x2', symbol: 'S0', t: 2_000, qty: 1 }),
      JSON.stringify({ id: 'y', symbol: 'S0', t: 16_000, qty: 1 }), // reaches 15 s, where [0, 10 s) fires
      JSON.stringify({ id: 'z', symbol: 'S0', t: 3_000, qty: 1 }),
    ];
    const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
    const result = stage.decode({ chunkSeq: 0, origin: 'test', payload: { kind: 'lines', bytes, firstOffset: 0 } });
    const target = result.targets[0]!;
    expect(createCodec('columnar').decode(target.records)).toEqual([
      ['S0', 0, 10_000, { count: 2, qty: 2 }],
      { id: 'z', symbol: 'S0', t: 3_000, qty: 1 },
      ['S0', 10_000, 20_000, { count: 1, qty: 1 }],
    ]);
    expect([...target.orderedIndex]).toEqual([1, 3, 2]);
    expect(result.partialsFireAt).toBe(15_000);
  });

  it('does not pre-aggregate an aggregate without merge, nor after dedupe', () => {
    const withoutMerge = windowJob(tumbling('10s'), { createAccumulator: summing.createAccumulator, add: summing.add, getResult: summing.getResult });
    expect(planJob(buildJob(withoutMerge, { live: false, outputs: {} }, undefined).graph).preAggregated).toEqual([]);
    const deduped = defineJob('deduped', (env) => {
      env
        .source('lines')
        .process<WindowTrade>('parse', (raw, _context, out) => out.collect(JSON.parse(raw.text) as WindowTrade))
        .dedupe('dedupe', { key: (trade) => trade.id, timestamp: (trade) => trade.t, within: '1m' })
        .withWatermarks('time', { timestamp: (trade) => trade.t })
        .keyBy('by-symbol', (trade) => trade.symbol)
        .window(tumbling('10s'))
        .aggregate('sum', summing)
        .sinkTo('windows', table('windows'));
    });
    expect(planJob(buildJob(deduped, { live: false, outputs: {} }, undefined).graph).preAggregated).toEqual([]);
  });

  it('gives the same windows and late records as an independent computation, at every parallelism and chunk size', async () => {
    const lines = windowTape(6_000, 7);
    const expected = expectWindows(lines);
    expect(expected.lateIds.length).toBeGreaterThan(100);
    for (const parallelism of [1, 2, 3]) {
      for (const chunk of [7, 250, 6_000]) {
        const run = await runTape(tumblingJob, lines, { parallelism, chunk });
        expect(run.rows, `-p ${parallelism}, ${chunk} lines a chunk`).toEqual(expected.rows);
        expect(run.late).toEqual(expected.lateIds);
        expect(run.counters.late_dropped).toBe(expected.lateIds.length);
      }
    }
  });

  it('restores a snapshot taken mid-tape at another parallelism and still matches the independent computation', async () => {
    const lines = windowTape(5_000, 11);
    const expected = expectWindows(lines);
    const first = await JobTestHarness.create(tumblingJob, { parallelism: 2 });
    const half = 2_500;
    for (let i = 0; i < half; i += 300) await first.pipeInput(lines.slice(i, Math.min(i + 300, half)));
    const snapshot = first.snapshot();
    const second = await JobTestHarness.create(tumblingJob, { parallelism: 3, restoreFrom: snapshot });
    for (let i = half; i < lines.length; i += 300) await second.pipeInput(lines.slice(i, i + 300));
    await second.finish();
    const rows = sortRows([...first.output<WindowRow>('windows'), ...second.output<WindowRow>('windows')]);
    const late = [...first.output<WindowTrade>('late'), ...second.output<WindowTrade>('late')].map((trade) => trade.id).sort();
    expect(rows).toEqual(expected.rows);
    expect(late).toEqual(expected.lateIds);
  });

  it('sliding windows: the same result with and without pre-aggregation', async () => {
    const job = windowJob(sliding('10s', '5s'), summing);
    const lines = windowTape(4_000, 3);
    const plain = await runTape(job, lines, { parallelism: 2, chunk: 97, preAggregate: false });
    expect(plain.late.length).toBeGreaterThan(50);
    for (const chunk of [13, 97, 4_000]) {
      const folded = await runTape(job, lines, { parallelism: 2, chunk });
      expect(folded.rows, `${chunk} lines a chunk`).toEqual(plain.rows);
      expect(folded.late).toEqual(plain.late);
    }
  });

  it('decodes a chunk again record by record when another split already pushed its windows past firing', async () => {
    const trade = (id: string, symbol: string, t: number) => JSON.stringify({ id, symbol, t, qty: 1 });
    const outcome = async (preAggregate: boolean) => {
      const harness = await JobTestHarness.create(tumblingJob, { parallelism: 1, splits: 2, preAggregate });
      await harness.pipeInput([trade('b0', 'S1', 0)], { split: 1 });
      // Split 1 goes idle; split 0 alone carries the watermark to 100 s, firing every window ending by 95 s.
      await harness.setIdle(1);
      await harness.pipeInput([trade('a0', 'S0', 50_000), trade('a1', 'S0', 100_000), trade('a2', 'S0', 101_000)], { split: 0 });
      // Split 1 wakes with trades in [10 s, 20 s): in order within their own chunk, but their window has fired.
      await harness.pipeInput([trade('b1', 'S1', 10_000), trade('b2', 'S2', 11_000), trade('b3', 'S1', 12_000)], { split: 1 });
      await harness.finish();
      return {
        late: harness.output<WindowTrade>('late').map((t) => t.id).sort(),
        lateDropped: harness.counters().late_dropped,
        rows: sortRows(harness.output<WindowRow>('windows')).map((row) => [row.symbol, row.start, row.count]),
      };
    };
    const folded = await outcome(true);
    expect(folded).toEqual({
      late: ['b1', 'b2', 'b3'],
      lateDropped: 3,
      rows: [
        ['S0', 50_000, 1],
        ['S0', 100_000, 2],
        ['S1', 0, 1],
      ],
    });
    expect(await outcome(false)).toEqual(folded);
  });
});
