// An async filter: its Promise is truthy, so without a check every record passed.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-async-filter', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text))
    .filter('even', async (record) => record.n % 2 === 0)
    .map('n', (record) => record.n)
    .sinkTo('out', stdoutSink('out'));
});
