// A keyBy after a keyed step: window results per symbol feed a keyed process with state and timers, the same at
// every parallelism and across a restore at another one, whether the keyBy shuffles into a second stage (§35) or,
// with `keepsKey`, keeps the records in their subtask (Flink's reinterpretAsKeyedStream), where a record whose
// key changes fails the run. A keyBy by another key (every window of a start together) shuffles.
import { describe, expect, it } from 'vitest';

import {
  JobTestHarness,
  defineJob,
  tumbling,
  type Collector,
  type KeyedContext,
  type KeyedProcessFunction,
  type KeyedRuntimeContext,
  type SinkFactory,
  type TimerContext,
  type ValueState,
} from '../../runtime/index.js';

interface Trade {
  readonly symbol: string;
  readonly t: number;
  readonly qty: number;
}
interface WindowTotal {
  readonly symbol: string;
  readonly start: number;
  readonly qty: number;
}
interface Trend {
  readonly symbol: string;
  readonly start: number;
  readonly qty: number;
  readonly previous: number | null;
  readonly windows: number;
}

const table = (name: string): SinkFactory<unknown> => ({
  name,
  create: () => {
    throw new Error('the harness replaces sinks');
  },
});

/** Per symbol: each window's total beside the one before, and a summary row once the next window has passed. */
class TrendOfWindows implements KeyedProcessFunction<WindowTotal, Trend> {
  private last!: ValueState<number>;
  private windows!: ValueState<number>;

  open(context: KeyedRuntimeContext): void {
    this.last = context.state.valueState<number>('last');
    this.windows = context.state.valueState<number>('windows');
  }

  processElement(total: WindowTotal, context: KeyedContext, out: Collector<Trend>): void {
    const windows = (this.windows.value() ?? 0) + 1;
    out.collect({ symbol: total.symbol, start: total.start, qty: total.qty, previous: this.last.value() ?? null, windows });
    this.last.update(total.qty);
    this.windows.update(windows);
    context.timerService.registerEventTimeTimer(total.start + 20_000);
  }

  onTimer(timestamp: number, context: TimerContext, out: Collector<Trend>): void {
    out.collect({ symbol: context.key, start: timestamp, qty: -1, previous: this.last.value() ?? null, windows: this.windows.value() ?? 0 });
  }
}

function trendJob(rekey: (total: WindowTotal) => string, keepsKey = false) {
  return defineJob('trend', (env) => {
    env
      .source('lines')
      .map('parse', (raw) => JSON.parse(raw.text) as Trade)
      .withWatermarks('time', { timestamp: (trade) => trade.t })
      .keyBy('by-symbol', (trade) => trade.symbol)
      .window(tumbling('10s'), { delay: '2s' })
      .aggregate<number, number, WindowTotal>(
        'total',
        { createAccumulator: () => 0, add: (trade: Trade, qty: number) => qty + trade.qty, getResult: (qty: number) => qty },
        {
          process(symbol, qty, context, out) {
            out.collect({ symbol, start: context.window.start, qty });
          },
        },
      )
      .keyBy('by-symbol-again', rekey, { keepsKey })
      .process<Trend>('trend', new TrendOfWindows())
      .sinkTo('trends', table('trends'));
  });
}

const shuffled = trendJob((total) => total.symbol);
const kept = trendJob((total) => total.symbol, true);

function tape(): string[] {
  const lines: string[] = [];
  let seed = 5;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 3_000; i++) {
    const t = 1_700_000_000_000 + i * 37 - Math.floor(random() * 1_500);
    lines.push(JSON.stringify({ symbol: `S${Math.floor(random() * 9)}`, t, qty: 1 + Math.floor(random() * 5) }));
  }
  return lines;
}

const byText = (rows: readonly Trend[]) => rows.map((row) => JSON.stringify(row)).sort();

async function run(parallelism: number, lines: readonly string[], job = shuffled, chunk = 200): Promise<Trend[]> {
  const harness = await JobTestHarness.create(job, { parallelism });
  for (let i = 0; i < lines.length; i += chunk) await harness.pipeInput(lines.slice(i, i + chunk));
  await harness.finish();
  return harness.output<Trend>('trends');
}

describe('a keyBy after a keyed step, by the same key', () => {
  it('gives each key its windows in order, with keyed state and event-time timers, the same at -p 1, 2 and 3', async () => {
    const lines = tape();
    const single = await run(1, lines);
    const rows = single.filter((row) => row.qty >= 0);
    // Every window of a symbol, in window order, each with the one before it.
    for (const symbol of new Set(rows.map((row) => row.symbol))) {
      const mine = rows.filter((row) => row.symbol === symbol);
      expect(mine.map((row) => row.windows)).toEqual(mine.map((_, index) => index + 1));
      for (let i = 1; i < mine.length; i++) {
        expect(mine[i]!.start).toBeGreaterThan(mine[i - 1]!.start);
        expect(mine[i]!.previous).toBe(mine[i - 1]!.qty);
      }
    }
    expect(rows.reduce((sum, row) => sum + row.qty, 0)).toBe(lines.reduce((sum, text) => sum + (JSON.parse(text) as Trade).qty, 0));
    expect(single.filter((row) => row.qty < 0).length).toBeGreaterThan(50);
    for (const parallelism of [2, 3]) expect(byText(await run(parallelism, lines)), `-p ${parallelism}`).toEqual(byText(single));
    // keepsKey: the same rows without the second stage.
    for (const parallelism of [1, 3]) expect(byText(await run(parallelism, lines, kept)), `keepsKey -p ${parallelism}`).toEqual(byText(single));
  });

  for (const [name, job] of [['shuffled', shuffled], ['keepsKey', kept]] as const) {
    it(`restores the re-keyed step at another parallelism and goes on as without the restore (${name})`, async () => {
      const lines = tape();
      const expected = byText(await run(1, lines));
      const first = await JobTestHarness.create(job, { parallelism: 2 });
      const half = lines.length / 2;
      for (let i = 0; i < half; i += 200) await first.pipeInput(lines.slice(i, Math.min(i + 200, half)));
      const snapshot = first.snapshot();
      const before = first.output<Trend>('trends');
      const restored = await JobTestHarness.create(job, { parallelism: 3, restoreFrom: snapshot });
      for (let i = half; i < lines.length; i += 200) await restored.pipeInput(lines.slice(i, i + 200));
      await restored.finish();
      expect(byText([...before, ...restored.output<Trend>('trends')])).toEqual(expected);
    });
  }

  it('with keepsKey, fails naming the keyBy step when a record changes its key, at -p 1 too', async () => {
    for (const parallelism of [1, 2]) {
      const harness = await JobTestHarness.create(
        trendJob((total) => (total.symbol === 'S3' ? 'elsewhere' : total.symbol), true),
        { parallelism },
      );
      await expect(
        (async () => {
          await harness.pipeInput(tape());
          await harness.finish();
        })(),
      ).rejects.toThrow(
        'step "by-symbol-again" threw: its key selector returned "elsewhere" for a record of key "S3": a keyBy with keepsKey must keep each record\'s key (without keepsKey it shuffles, docs/decisions.md §5)',
      );
    }
  });
});

interface StartTotal {
  readonly start: number;
  readonly symbols: number;
  readonly qty: number;
}

/** Each symbol's 10 s totals, shuffled by window start into a second window (open 5 s longer) that adds up every symbol's. */
const acrossSymbols = defineJob('across-symbols', (env) => {
  env
    .source('lines')
    .map('parse', (raw) => JSON.parse(raw.text) as Trade)
    .withWatermarks('time', { timestamp: (trade) => trade.t })
    .keyBy('by-symbol', (trade) => trade.symbol)
    .window(tumbling('10s'), { delay: '2s' })
    .aggregate<number, number, WindowTotal>(
      'total',
      { createAccumulator: () => 0, add: (trade: Trade, qty: number) => qty + trade.qty, getResult: (qty: number) => qty, merge: (a: number, b: number) => a + b },
      { process: (symbol, qty, context, out) => out.collect({ symbol, start: context.window.start, qty }) },
    )
    .keyBy('by-start', (total) => String(total.start))
    .window(tumbling('10s'), { delay: '5s', lateCounter: 'late_dropped.starts' })
    .aggregate<StartTotal, StartTotal, StartTotal>('across', {
      createAccumulator: () => ({ start: 0, symbols: 0, qty: 0 }),
      add: (total: WindowTotal, sum: StartTotal) => ({ start: total.start, symbols: sum.symbols + 1, qty: sum.qty + total.qty }),
      getResult: (sum: StartTotal) => sum,
    })
    .sinkTo('starts', table('starts'));
});

describe('a keyBy by another key after a window: a second stage', () => {
  /** Computed here from the tape: per 10 s window, how many symbols traded and their total quantity. */
  function expectedStarts(lines: readonly string[]): string[] {
    const byStart = new Map<number, { symbols: Set<string>; qty: number }>();
    for (const line of lines) {
      const trade = JSON.parse(line) as Trade;
      const start = Math.floor(trade.t / 10_000) * 10_000;
      const sum = byStart.get(start) ?? { symbols: new Set<string>(), qty: 0 };
      sum.symbols.add(trade.symbol);
      sum.qty += trade.qty;
      byStart.set(start, sum);
    }
    return [...byStart].map(([start, sum]) => JSON.stringify({ start, symbols: sum.symbols.size, qty: sum.qty })).sort();
  }

  async function runAcross(parallelism: number, lines: readonly string[], chunk: number): Promise<string[]> {
    const harness = await JobTestHarness.create(acrossSymbols, { parallelism });
    for (let i = 0; i < lines.length; i += chunk) await harness.pipeInput(lines.slice(i, i + chunk));
    await harness.finish();
    expect(harness.counters()['late_dropped.starts']).toBe(0);
    return harness.output<StartTotal>('starts').map((row) => JSON.stringify(row)).sort();
  }

  it('adds up every symbol of a window in the second stage, at -p 1, 2 and 3 and any chunk size', async () => {
    // The tape's records are at most 1.5 s out of order and the first windows wait 2 s: none is late.
    const lines = tape();
    const expected = expectedStarts(lines);
    expect(expected.length).toBeGreaterThan(8);
    for (const [parallelism, chunk] of [[1, 200], [2, 37], [3, 500]] as const) {
      expect(await runAcross(parallelism, lines, chunk), `-p ${parallelism}, chunks of ${chunk}`).toEqual(expected);
    }
  });

  it('restores both stages at another parallelism mid-tape', async () => {
    const lines = tape();
    const first = await JobTestHarness.create(acrossSymbols, { parallelism: 3 });
    const cut = 1_700;
    for (let i = 0; i < cut; i += 100) await first.pipeInput(lines.slice(i, Math.min(i + 100, cut)));
    const snapshot = first.snapshot();
    // The second stage holds open windows in the snapshot, and has fired some already.
    expect(snapshot.operators.some((operators) => Object.keys(operators['across']?.keyGroups ?? {}).length > 0)).toBe(true);
    const before = first.output<StartTotal>('starts');
    expect(before.length).toBeGreaterThan(0);
    const restored = await JobTestHarness.create(acrossSymbols, { parallelism: 2, restoreFrom: snapshot });
    for (let i = cut; i < lines.length; i += 100) await restored.pipeInput(lines.slice(i, i + 100));
    await restored.finish();
    expect([...before, ...restored.output<StartTotal>('starts')].map((row) => JSON.stringify(row)).sort()).toEqual(expectedStarts(lines));
  });
});
