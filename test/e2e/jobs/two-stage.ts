// Two keyBys, so two stages of subtasks (docs/decisions.md §35): 2 s windows per (symbol, exchange) first, then
// the window rows shuffled by symbol into a keyed process that adds up each symbol's exchanges once the
// watermark says every exchange's window has fired, and by window start into a window counting every pair.

import {
  defineJob,
  tableSink,
  tumbling,
  type Collector,
  type KeyedContext,
  type KeyedProcessFunction,
  type KeyedRuntimeContext,
  type MapState,
  type TimerContext,
} from 'coattail';
import { column, pairWindows, WINDOW_MS, type PairWindow } from './multi-stage-support.js';

interface SymbolWindow {
  readonly symbol: string;
  readonly start: number;
  readonly trades: number;
  readonly exchanges: number;
}

interface StartCount {
  readonly start: number;
  readonly pairs: number;
  readonly trades: number;
}

/** Per symbol: each window start's trades over its exchanges, emitted at the window's end (an event-time timer). */
class SymbolTotals implements KeyedProcessFunction<PairWindow, SymbolWindow> {
  private byStart!: MapState<number, { trades: number; exchanges: number }>;

  open(context: KeyedRuntimeContext): void {
    this.byStart = context.state.mapState('by-start');
  }

  processElement(row: PairWindow, context: KeyedContext, _out: Collector<SymbolWindow>): void {
    const sum = this.byStart.get(row.start) ?? { trades: 0, exchanges: 0 };
    this.byStart.put(row.start, { trades: sum.trades + row.trades, exchanges: sum.exchanges + 1 });
    // The engine's watermark W means every record before W has arrived: at the window's end, every exchange's row has.
    context.timerService.registerEventTimeTimer(row.start + WINDOW_MS);
  }

  onTimer(timestamp: number, context: TimerContext, out: Collector<SymbolWindow>): void {
    const start = timestamp - WINDOW_MS;
    const sum = this.byStart.get(start);
    if (!sum) return;
    out.collect({ symbol: context.key, start, trades: sum.trades, exchanges: sum.exchanges });
    this.byStart.remove(start);
  }
}

export default defineJob('e2e-two-stage', (env) => {
  const pairs = pairWindows(env);
  pairs
    .keyBy('by-symbol', (row) => row.symbol)
    .process<SymbolWindow>('symbol-totals', new SymbolTotals())
    .sinkTo('symbols-sink', tableSink({ name: 'symbols', columns: [column('symbol', 'string'), column('start', 'int64'), column('trades', 'int64'), column('exchanges', 'int64')] }));
  pairs
    .keyBy('by-start', (row) => String(row.start))
    .window(tumbling('2s'), { lateCounter: 'late_dropped.starts' })
    .aggregate<StartCount, StartCount, StartCount>(
      'start-counts',
      {
        createAccumulator: () => ({ start: 0, pairs: 0, trades: 0 }),
        add: (row: PairWindow, count: StartCount) => ({ start: row.start, pairs: count.pairs + 1, trades: count.trades + row.trades }),
        getResult: (count: StartCount) => count,
      },
    )
    .sinkTo('starts-sink', tableSink({ name: 'starts', columns: [column('start', 'int64'), column('pairs', 'int64'), column('trades', 'int64')] }));
});
