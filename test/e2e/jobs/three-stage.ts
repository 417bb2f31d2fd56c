// Three keyBys, so three stages of subtasks (docs/decisions.md §35): 2 s windows per (symbol, exchange), their rows
// shuffled by symbol into 2 s windows over the exchanges, and those rows shuffled by window start into a keyed
// process that emits each start's totals at the window's end (an event-time timer). Every stage writes a table.

import { defineJob, tableSink, tumbling, type Collector, type KeyedContext, type KeyedProcessFunction, type KeyedRuntimeContext, type TimerContext, type ValueState } from 'coattail';
import { column, pairWindows, WINDOW_MS, type PairWindow } from './multi-stage-support.js';

interface SymbolWindow {
  readonly symbol: string;
  readonly start: number;
  readonly exchanges: number;
  readonly trades: number;
  readonly volume: number;
}

interface StartTotal {
  readonly start: number;
  readonly symbols: number;
  readonly trades: number;
  readonly volume: number;
}

/** Per window start: the symbols' rows added up, emitted once the watermark passes the window's end. */
class StartTotals implements KeyedProcessFunction<SymbolWindow, StartTotal> {
  private total!: ValueState<{ symbols: number; trades: number; volume: number }>;

  open(context: KeyedRuntimeContext): void {
    this.total = context.state.valueState('total');
  }

  processElement(row: SymbolWindow, context: KeyedContext, _out: Collector<StartTotal>): void {
    const sum = this.total.value() ?? { symbols: 0, trades: 0, volume: 0 };
    this.total.update({ symbols: sum.symbols + 1, trades: sum.trades + row.trades, volume: sum.volume + row.volume });
    context.timerService.registerEventTimeTimer(row.start + WINDOW_MS);
  }

  onTimer(timestamp: number, context: TimerContext, out: Collector<StartTotal>): void {
    const sum = this.total.value();
    if (!sum) return;
    out.collect({ start: timestamp - WINDOW_MS, ...sum });
    this.total.clear();
  }
}

export default defineJob('e2e-three-stage', (env) => {
  const pairs = pairWindows(env);
  const symbols = pairs
    .keyBy('by-symbol', (row) => row.symbol)
    .window(tumbling('2s'), { lateCounter: 'late_dropped.symbols' })
    .aggregate<SymbolWindow, SymbolWindow, SymbolWindow>('symbol-windows', {
      createAccumulator: () => ({ symbol: '', start: 0, exchanges: 0, trades: 0, volume: 0 }),
      add: (row: PairWindow, sum: SymbolWindow) => ({ symbol: row.symbol, start: row.start, exchanges: sum.exchanges + 1, trades: sum.trades + row.trades, volume: sum.volume + row.volume }),
      getResult: (sum: SymbolWindow) => sum,
    });
  symbols.sinkTo(
    'symbols-sink',
    tableSink({ name: 'symbols', columns: [column('symbol', 'string'), column('start', 'int64'), column('exchanges', 'int64'), column('trades', 'int64'), column('volume', 'double')] }),
  );
  symbols
    .keyBy('by-start', (row) => String(row.start))
    .process<StartTotal>('start-totals', new StartTotals())
    .sinkTo('starts-sink', tableSink({ name: 'starts', columns: [column('start', 'int64'), column('symbols', 'int64'), column('trades', 'int64'), column('volume', 'double')] }));
});
