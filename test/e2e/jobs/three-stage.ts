// Three keyBys, so three stages of subtasks (docs/decisions.md §35): 2 s windows per (symbol, exchange), their rows
// shuffled by symbol into 2 s windows over the exchanges, and those rows shuffled by window start into a keyed
// process that emits each start's totals at the window's end (an event-time timer). Every stage writes a table.

import { defineJob, tableSink, tumbling, type Collector, type KeyedContext, type KeyedProcessFunction, type KeyedRuntimeContext, type TimerContext, type ValueState } from 'coattail';
import { parseTrade, type ParsedTrade } from '../../../bench/jobs/trade-parse.js';

const WINDOW_MS = 2_000;

interface PairWindow {
  readonly symbol: string;
  readonly exchange: string;
  readonly start: number;
  readonly trades: number;
  readonly volume: number;
}

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

function isPast(trade: ParsedTrade): boolean {
  const received: unknown = trade.ingestion_timestamp;
  const receivedMs = typeof received === 'number' ? received : typeof received === 'string' ? Date.parse(received) : Number.NaN;
  return Number.isFinite(trade.timestamp) && trade.timestamp <= receivedMs;
}

const column = (name: string, type: 'string' | 'int64' | 'double') => ({ name, type });

export default defineJob('e2e-three-stage', (env) => {
  const pairs = env
    .source('lines')
    .process<ParsedTrade>('parse', parseTrade)
    .map('volume', (trade) => ({ ...trade, quote_volume: trade.quote_volume ?? trade.price * trade.quantity }))
    .filter('sound', (trade) => typeof trade.symbol === 'string' && typeof trade.exchange === 'string' && Number.isFinite(trade.quote_volume) && isPast(trade))
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp })
    .keyBy('by-pair', (trade) => `${trade.symbol}|${trade.exchange}`)
    .window(tumbling('2s'), { delay: '1s', lateCounter: 'late_dropped.pairs' })
    .aggregate<{ trades: number; volume: number }, { trades: number; volume: number }, PairWindow>(
      'pair-windows',
      {
        createAccumulator: () => ({ trades: 0, volume: 0 }),
        add: (trade: ParsedTrade, sum: { trades: number; volume: number }) => ({ trades: sum.trades + 1, volume: sum.volume + trade.quote_volume }),
        getResult: (sum: { trades: number; volume: number }) => sum,
        merge: (a: { trades: number; volume: number }, b: { trades: number; volume: number }) => ({ trades: a.trades + b.trades, volume: a.volume + b.volume }),
      },
      {
        process(key, sum, context, out) {
          const [symbol, exchange] = key.split('|') as [string, string];
          out.collect({ symbol, exchange, start: context.window.start, trades: sum.trades, volume: sum.volume });
        },
      },
    );
  pairs.sinkTo(
    'pairs-sink',
    tableSink({ name: 'pairs', columns: [column('symbol', 'string'), column('exchange', 'string'), column('start', 'int64'), column('trades', 'int64'), column('volume', 'double')] }),
  );
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
