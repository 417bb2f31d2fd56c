// Benchmark job: the window-count job plus an archive of every trade into a deliberately slow sink, to show
// that backpressure holds memory flat. The pace comes from COATTAIL_BENCH_SINK_MICROS_PER_ROW (default 100).

import { defineJob, tumbling } from 'coattail';
import { countingSink, slowSink } from './counting-sink.js';
import { parseTrade, type ParsedTrade } from './trade-parse.js';

const microsPerRow = Number(process.env.COATTAIL_BENCH_SINK_MICROS_PER_ROW ?? '100');

export default defineJob('bench-window-count-slow-sink', (env) => {
  const trades = env.source('lines').process<ParsedTrade>('parse', parseTrade);
  trades.sinkTo('trade_archive', slowSink('trade_archive', microsPerRow));
  trades
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp })
    .keyBy('by-symbol-exchange', (trade) => `${trade.symbol}|${trade.exchange}`)
    .window(tumbling('60s'), { delay: '30s', lateCounter: 'late_dropped' })
    .aggregate('count', {
      createAccumulator: () => 0,
      add: (_trade: ParsedTrade, count: number) => count + 1,
      getResult: (count: number) => count,
    })
    .sinkTo('window_counts', countingSink('window_counts'));
});
