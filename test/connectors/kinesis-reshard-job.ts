// The job test/e2e/kinesis-resharding.test.ts runs: every record, keyed by its partition key, written in the
// order it was processed with the shard it came from and the watermark it saw (as text, so ±Infinity survive JSON).

import { defineJob } from 'coattail';
import { jsonlSink } from '../e2e/jobs/test-sinks.js';

export interface ReshardTrade {
  readonly id: number;
  readonly key: string;
  readonly t: number;
}

export interface SeenTrade extends ReshardTrade {
  readonly source: string;
  readonly offset: string;
  readonly watermark: string;
}

export default defineJob('e2e-kinesis-reshard', (env) => {
  env
    .source('records')
    .map('parse', (raw) => ({ ...(JSON.parse(raw.text) as ReshardTrade), source: raw.source, offset: String(raw.offset) }))
    .withWatermarks('time', { timestamp: (trade) => trade.t })
    .keyBy('by-key', (trade) => trade.key)
    .process<SeenTrade>('note', {
      processElement(trade, context, out) {
        out.collect({ ...trade, watermark: String(context.currentWatermark) });
      },
    })
    .sinkTo('seen', jsonlSink('seen'));
});
