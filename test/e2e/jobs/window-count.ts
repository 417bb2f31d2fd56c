// A keyed event-time window job: 10 s tumbling windows per symbol with a 5 s delay, late records on a side
// output, unparsable lines on another.

import { OutputTag, defineJob, tumbling } from 'coattail';
import { jsonlSink } from './test-sinks.js';

interface Trade {
  readonly id: string;
  readonly symbol: string;
  readonly t: number;
  readonly qty: number;
}

interface Sum {
  readonly count: number;
  readonly qty: number;
}

interface WindowRow extends Sum {
  readonly symbol: string;
  readonly start: number;
  readonly end: number;
}

const LATE = new OutputTag<Trade>('late');
const BAD = new OutputTag<{ raw: string; offset: number | string }>('bad');

export default defineJob('e2e-window-count', (env) => {
  const trades = env.source('lines').process<Trade>('parse', (raw, context, out) => {
    let trade: Trade;
    try {
      trade = JSON.parse(raw.text) as Trade;
    } catch {
      context.output(BAD, { raw: raw.text, offset: raw.offset });
      return;
    }
    out.collect(trade);
  });
  trades.getSideOutput(BAD).sinkTo('bad', jsonlSink('bad'));
  const windows = trades
    .withWatermarks('time', { timestamp: (trade) => trade.t })
    .keyBy('by-symbol', (trade) => trade.symbol)
    .window(tumbling('10s'), { delay: '5s', lateCounter: 'late_dropped' })
    .sideOutputLateData(LATE)
    .aggregate<Sum, Sum, WindowRow>(
      'sum',
      {
        createAccumulator: () => ({ count: 0, qty: 0 }),
        add: (trade: Trade, sum: Sum) => ({ count: sum.count + 1, qty: sum.qty + trade.qty }),
        getResult: (sum: Sum) => sum,
        // Lets the decode stage pre-aggregate per chunk; the counts are integers, so sums stay exact.
        merge: (earlier: Sum, later: Sum) => ({ count: earlier.count + later.count, qty: earlier.qty + later.qty }),
      },
      {
        process(symbol, sum, context, out) {
          out.collect({ symbol, start: context.window.start, end: context.window.end, count: sum.count, qty: sum.qty });
        },
      },
    );
  windows.sinkTo('windows', jsonlSink('windows'));
  windows.getSideOutput(LATE).sinkTo('late', jsonlSink('late'));
});
