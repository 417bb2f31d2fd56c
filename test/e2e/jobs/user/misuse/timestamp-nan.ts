// A timestamp extractor that returns NaN for a record without a parsable time.
import { defineJob, stdoutSink, tumbling } from 'coattail';

export default defineJob('misuse-timestamp-nan', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text) as { n: number; when?: string })
    .withWatermarks('event-time', { timestamp: (record) => Date.parse(record.when ?? '') })
    .keyBy('by-n', (record) => String(record.n % 3))
    .window(tumbling('1s'))
    .aggregate('count', { createAccumulator: () => 0, add: (_record, n: number) => n + 1, getResult: (n) => n })
    .sinkTo('out', stdoutSink('out'));
});
