// The first stage the multi-stage test jobs share (docs/decisions.md §35): sound trades of a generated tape, and
// their 2 s windows per (symbol, exchange) written to the `pairs` table.

import { tableSink, tumbling, type DataStream, type StreamEnvironment } from 'coattail';
import { parseTrade, type ParsedTrade } from '../../../bench/jobs/trade-parse.js';

export const WINDOW_MS = 2_000;

export interface PairWindow {
  readonly symbol: string;
  readonly exchange: string;
  readonly start: number;
  readonly trades: number;
  readonly volume: number;
}

interface PairSum {
  trades: number;
  volume: number;
}

export const column = (name: string, type: 'string' | 'int64' | 'double') => ({ name, type });

/** Event time known and not after the trade was received (the tapes' future timestamps would end every window at once). */
export function isPast(trade: ParsedTrade): boolean {
  const received: unknown = trade.ingestion_timestamp;
  const receivedMs = typeof received === 'number' ? received : typeof received === 'string' ? Date.parse(received) : Number.NaN;
  return Number.isFinite(trade.timestamp) && trade.timestamp <= receivedMs;
}

/**
 * Parsed trades with event time. The generated tapes hold bad records of every kind: only trades whose fields these
 * jobs read are sound pass.
 */
export function soundTrades(env: StreamEnvironment): DataStream<ParsedTrade> {
  return env
    .source('lines')
    .process<ParsedTrade>('parse', parseTrade)
    .map('volume', (trade) => ({ ...trade, quote_volume: trade.quote_volume ?? trade.price * trade.quantity }))
    .filter('sound', (trade) => typeof trade.symbol === 'string' && typeof trade.exchange === 'string' && Number.isFinite(trade.quote_volume) && isPast(trade))
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp });
}

/** 2 s windows per (symbol, exchange), 1 s delay, into the `pairs` table; the rows go on to the next stage. */
export function pairWindows(env: StreamEnvironment): DataStream<PairWindow> {
  const pairs = soundTrades(env)
    .keyBy('by-pair', (trade) => `${trade.symbol}|${trade.exchange}`)
    .window(tumbling('2s'), { delay: '1s', lateCounter: 'late_dropped.pairs' })
    .aggregate<PairSum, PairSum, PairWindow>(
      'pair-windows',
      {
        createAccumulator: () => ({ trades: 0, volume: 0 }),
        // In place, as many aggregates are: a checkpoint must hold the accumulator as it was at the barrier.
        add: (trade: ParsedTrade, sum: PairSum) => {
          sum.trades++;
          sum.volume += trade.quote_volume;
          return sum;
        },
        getResult: (sum: PairSum) => sum,
        merge: (earlier: PairSum, later: PairSum) => {
          earlier.trades += later.trades;
          earlier.volume += later.volume;
          return earlier;
        },
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
  return pairs;
}
