// Keyed state from a process step on a stream that was never keyed.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-unkeyed-state', (env) => {
  let count;
  env
    .source('raw')
    .process('counter', {
      open(context) {
        count = context.state.valueState('count');
      },
      processElement(raw, _context, out) {
        count.update((count.value() ?? 0) + 1);
        out.collect(raw.text);
      },
    })
    .sinkTo('out', stdoutSink('out'));
});
