// Benchmark job: keyed tumbling-window count and volume per (symbol, exchange), 60 s windows, 30 s delay,
// into a sink that only counts rows.

import { defineJob, tumbling } from 'coattail';
import { countingSink } from './counting-sink.js';
import { parseTrade, type ParsedTrade } from './trade-parse.js';

interface Totals {
  count: number;
  volume: number;
}

interface WindowRow {
  key: string;
  window_start: number;
  trade_count: number;
  total_volume: number;
}

export default defineJob('bench-window-count', (env) => {
  env
    .source('lines')
    .process<ParsedTrade>('parse', parseTrade)
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp })
    .keyBy('by-symbol-exchange', (trade) => `${trade.symbol}|${trade.exchange}`)
    .window(tumbling('60s'), { delay: '30s', lateCounter: 'late_dropped' })
    .aggregate<Totals, Totals, WindowRow>(
      'count-volume',
      {
        createAccumulator: (): Totals => ({ count: 0, volume: 0 }),
        add: (trade: ParsedTrade, totals: Totals) => {
          totals.count++;
          totals.volume += trade.quote_volume;
          return totals;
        },
        getResult: (totals: Totals) => totals,
        // Lets the decode stage pre-aggregate each chunk (compare with --no-pre-aggregate).
        merge: (earlier: Totals, later: Totals) => ({ count: earlier.count + later.count, volume: earlier.volume + later.volume }),
      },
      {
        process(key, totals, context, out) {
          out.collect({ key, window_start: context.window.start, trade_count: totals.count, total_volume: totals.volume });
        },
      },
    )
    .sinkTo('window_counts', countingSink('window_counts'));
});
