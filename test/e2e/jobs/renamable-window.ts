// A keyed window job whose window step is named by WINDOW_STEP (default "count"): a restore under another name
// is a job whose stateful step was renamed.

import { defineJob, tumbling } from 'coattail';
import { jsonlSink } from './test-sinks.js';

interface Trade {
  readonly symbol: string;
  readonly t: number;
}

export default defineJob('e2e-renamable-window', (env) => {
  env
    .source('lines')
    .map('parse', (raw) => JSON.parse(raw.text) as Trade)
    .withWatermarks('time', { timestamp: (trade) => trade.t })
    .keyBy('by-symbol', (trade) => trade.symbol)
    .window(tumbling('10s'))
    .aggregate(process.env.WINDOW_STEP ?? 'count', { createAccumulator: () => 0, add: (_trade: Trade, n: number) => n + 1, getResult: (n: number) => n })
    .map('row', (count) => ({ count }))
    .sinkTo('counts', jsonlSink('counts'));
});
