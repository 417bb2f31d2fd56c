// Benchmark job for the second keyBy (docs/decisions.md §35): every parsed trade goes through a keyed process per
// (symbol, exchange) and is keyed again by side into a keyed count, so each record crosses the second shuffle
// (through the coordinator). `REKEY_KEEPS_KEY=1` keys the second step by the same key with `keepsKey` instead:
// the same work without the crossing, for comparison.

import { defineJob, type Collector, type KeyedContext, type KeyedProcessFunction, type KeyedRuntimeContext, type ValueState } from 'coattail';
import { countingSink } from './counting-sink.js';
import { parseTrade, type ParsedTrade } from './trade-parse.js';

const keepsKey = process.env['REKEY_KEEPS_KEY'] === '1';
const pairOf = (trade: ParsedTrade) => `${trade.symbol}|${trade.exchange}`;

/** Counts its key's trades in keyed state; a row every 100,000th. */
class KeyedCount implements KeyedProcessFunction<ParsedTrade, number> {
  private count!: ValueState<number>;

  open(context: KeyedRuntimeContext): void {
    this.count = context.state.valueState<number>('count');
  }

  processElement(_trade: ParsedTrade, _context: KeyedContext, out: Collector<number>): void {
    const count = (this.count.value() ?? 0) + 1;
    this.count.update(count);
    if (count % 100_000 === 0) out.collect(count);
  }
}

export default defineJob('bench-rekey-records', (env) => {
  env
    .source('lines')
    .process<ParsedTrade>('parse', parseTrade)
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp })
    .keyBy('by-pair', pairOf)
    .process<ParsedTrade>('pass', { processElement: (trade: ParsedTrade, _context: KeyedContext, out: Collector<ParsedTrade>) => out.collect(trade) })
    .keyBy('again', keepsKey ? pairOf : (trade) => trade.side, { keepsKey })
    .process<number>('count', new KeyedCount())
    .sinkTo('counts', countingSink('counts'));
});
