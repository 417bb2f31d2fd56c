// A keyBy after a keyed step: the records stay in their subtask, which is only a shuffle when each keeps its key
// (as Flink's reinterpretAsKeyedStream). Window results per symbol feed a keyed process with state and timers,
// the same at every parallelism and across a restore at another one; a key that changes fails the run.
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

function trendJob(rekey: (total: WindowTotal) => string) {
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
      .keyBy('by-symbol-again', rekey)
      .process<Trend>('trend', new TrendOfWindows())
      .sinkTo('trends', table('trends'));
  });
}

const sameKey = trendJob((total) => total.symbol);

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

async function run(parallelism: number, lines: readonly string[], chunk = 200): Promise<Trend[]> {
  const harness = await JobTestHarness.create(sameKey, { parallelism });
  for (let i = 0; i < lines.length; i += chunk) await harness.pipeInput(lines.slice(i, i + chunk));
  await harness.finish();
  return harness.output<Trend>('trends');
}

describe('a keyBy after a keyed step, keeping the key', () => {
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
  });

  it('restores the re-keyed step at another parallelism and goes on as without the restore', async () => {
    const lines = tape();
    const expected = byText(await run(1, lines));
    const first = await JobTestHarness.create(sameKey, { parallelism: 2 });
    const half = lines.length / 2;
    for (let i = 0; i < half; i += 200) await first.pipeInput(lines.slice(i, Math.min(i + 200, half)));
    const snapshot = first.snapshot();
    const before = first.output<Trend>('trends');
    const restored = await JobTestHarness.create(sameKey, { parallelism: 3, restoreFrom: snapshot });
    for (let i = half; i < lines.length; i += 200) await restored.pipeInput(lines.slice(i, i + 200));
    await restored.finish();
    expect(byText([...before, ...restored.output<Trend>('trends')])).toEqual(expected);
  });

  it('fails naming the keyBy step when a record changes its key, at -p 1 too', async () => {
    for (const parallelism of [1, 2]) {
      const harness = await JobTestHarness.create(
        trendJob((total) => (total.symbol === 'S3' ? 'elsewhere' : total.symbol)),
        { parallelism },
      );
      await expect(
        (async () => {
          await harness.pipeInput(tape());
          await harness.finish();
        })(),
      ).rejects.toThrow(
        'step "by-symbol-again" threw: its key selector returned "elsewhere" for a record of key "S3": a keyBy after a keyed step must keep each record\'s key (the engine shuffles once, docs/decisions.md §5)',
      );
    }
  });
});
