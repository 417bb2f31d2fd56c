// A keyBy selector that throws on one record (n = 1500 has no `when`): the error must name the keyBy step,
// not the step whose output the selector was called on.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-key-selector-throws', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text))
    .keyBy('by-second', (record) => record.when.slice(0, 19))
    .process('echo', { processElement: (record, _context, out) => out.collect(record.n) })
    .sinkTo('out', stdoutSink('out'));
});
