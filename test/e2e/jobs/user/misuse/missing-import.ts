// Imports a helper module that does not exist.
import { defineJob, stdoutSink } from 'coattail';
import { helper } from './helpers/not-there.js';

export default defineJob('misuse-missing-import', (env) => {
  env.source('raw').map('help', (raw) => helper(raw.text)).sinkTo('out', stdoutSink('out'));
});
