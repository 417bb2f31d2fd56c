// keyBy returning a number: the types say string, plain JS does not check.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-key-number', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text))
    .keyBy('by-n', (record) => record.n % 7)
    .process('echo', { processElement: (record, _context, out) => out.collect(record.n) })
    .sinkTo('out', stdoutSink('out'));
});
