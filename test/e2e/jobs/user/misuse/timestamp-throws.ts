// A timestamp function that throws on the record without a time: the error names the withWatermarks step.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-timestamp-throws', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text) as { n: number; when?: string })
    .withWatermarks('event-time', {
      timestamp: (record) => {
        if (record.when === undefined) throw new Error(`record ${record.n} has no time`);
        return Date.parse(record.when);
      },
    })
    .map('n', (record) => record.n)
    .sinkTo('out', stdoutSink('out'));
});
