// Second-stage shapes (docs/decisions.md §35): sessions per (symbol, exchange) with their late trades as a side
// output; both cross a second keyBy by symbol into a connect() with an event-time timer per 2 s bucket; the sessions
// also cross by exchange into a tumbling window; the two second-stage streams are unioned into one table.

import { OutputTag, defineJob, session, tableSink, tumbling, type CoProcessFunction, type KeyedContext, type KeyedRuntimeContext, type MapState, type TimerContext, type Collector } from 'coattail';
import { parseTrade, type ParsedTrade } from '../../../bench/jobs/trade-parse.js';
import { column, isPast } from './multi-stage-support.js';

const BUCKET_MS = 2_000;
const LATE = new OutputTag<ParsedTrade>('late-trades');

interface Session {
  readonly symbol: string;
  readonly exchange: string;
  readonly start: number;
  readonly end: number;
  readonly trades: number;
}

interface Row {
  readonly kind: string;
  readonly key: string;
  readonly bucket: number;
  readonly sessions: number;
  readonly trades: number;
  readonly late: number;
}

/** Per symbol and 2 s bucket of sessions' ends: sessions and their trades, at the bucket's end (an event-time timer). */
class SymbolBuckets implements CoProcessFunction<Session, ParsedTrade, Row> {
  private buckets!: MapState<number, { sessions: number; trades: number; late: number }>;

  open(context: KeyedRuntimeContext): void {
    this.buckets = context.state.mapState('buckets');
  }

  private add(time: number, context: KeyedContext, sessions: number, trades: number): void {
    const bucket = Math.floor(time / BUCKET_MS) * BUCKET_MS;
    const sum = this.buckets.get(bucket) ?? { sessions: 0, trades: 0, late: 0 };
    this.buckets.put(bucket, { sessions: sum.sessions + sessions, trades: sum.trades + trades, late: 0 });
    context.timerService.registerEventTimeTimer(bucket + BUCKET_MS - 1);
  }

  processElement1(row: Session, context: KeyedContext): void {
    this.add(row.end - 1, context, 1, row.trades);
  }

  /** A late trade is behind the watermark: a row of its own now (a timer for its bucket would fire at a watermark that depends on the parallelism). */
  processElement2(trade: ParsedTrade, context: KeyedContext, out: Collector<Row>): void {
    out.collect({ kind: 'late', key: context.key, bucket: Math.floor(trade.timestamp / BUCKET_MS) * BUCKET_MS, sessions: 0, trades: 0, late: 1 });
  }

  onTimer(timestamp: number, context: TimerContext, out: Collector<Row>): void {
    const bucket = timestamp + 1 - BUCKET_MS;
    const sum = this.buckets.get(bucket);
    if (!sum) return;
    out.collect({ kind: 'symbol', key: context.key, bucket, ...sum });
    this.buckets.remove(bucket);
  }
}

export default defineJob('e2e-second-stage-shapes', (env) => {
  const sessions = env
    .source('lines')
    .process<ParsedTrade>('parse', parseTrade)
    .filter('sound', (trade) => typeof trade.symbol === 'string' && typeof trade.exchange === 'string' && isPast(trade))
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp })
    .keyBy('by-pair', (trade) => `${trade.symbol}|${trade.exchange}`)
    .window(session(process.env.COATTAIL_E2E_SESSION_GAP ?? '20ms'), { delay: '200ms', lateCounter: 'late_dropped.sessions' })
    .sideOutputLateData(LATE)
    .aggregate<number, number, Session>(
      'sessions',
      { createAccumulator: () => 0, add: (_trade: ParsedTrade, count: number) => count + 1, getResult: (count: number) => count, merge: (a: number, b: number) => a + b },
      {
        process(key, trades, context, out) {
          const [symbol, exchange] = key.split('|') as [string, string];
          out.collect({ symbol, exchange, start: context.window.start, end: context.window.end, trades });
        },
      },
    );
  sessions.sinkTo(
    'sessions-sink',
    tableSink({ name: 'sessions', columns: [column('symbol', 'string'), column('exchange', 'string'), column('start', 'int64'), column('end', 'int64'), column('trades', 'int64')] }),
  );
  const late = sessions.getSideOutput(LATE);
  late.sinkTo('late-sink', tableSink({ name: 'late', columns: [column('event_id', 'string'), column('symbol', 'string'), column('timestamp', 'int64')] }));
  const bySymbol = sessions
    .keyBy('sessions-by-symbol', (row) => row.symbol)
    .connect(late.keyBy('late-by-symbol', (trade) => trade.symbol))
    .process<Row>('symbol-buckets', new SymbolBuckets());
  const byExchange = sessions
    .keyBy('sessions-by-exchange', (row) => row.exchange)
    .window(tumbling('2s'), { lateCounter: 'late_dropped.exchanges' })
    .aggregate<{ sessions: number; trades: number }, { sessions: number; trades: number }, Row>(
      'exchange-buckets',
      {
        createAccumulator: () => ({ sessions: 0, trades: 0 }),
        add: (row: Session, sum: { sessions: number; trades: number }) => ({ sessions: sum.sessions + 1, trades: sum.trades + row.trades }),
        getResult: (sum: { sessions: number; trades: number }) => sum,
      },
      {
        process(exchange, sum, context, out) {
          out.collect({ kind: 'exchange', key: exchange, bucket: context.window.start, sessions: sum.sessions, trades: sum.trades, late: 0 });
        },
      },
    );
  bySymbol
    .union(byExchange)
    .sinkTo(
      'buckets-sink',
      tableSink({ name: 'buckets', columns: [column('kind', 'string'), column('key', 'string'), column('bucket', 'int64'), column('sessions', 'int64'), column('trades', 'int64'), column('late', 'int64')] }),
    );
});
