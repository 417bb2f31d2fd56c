// A stateless process step whose open() throws (it runs where records are parsed): the error names the step.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-open-throws', (env) => {
  env
    .source('raw')
    .process('enrich', {
      open() {
        throw new Error('lookup table missing');
      },
      processElement: (raw, _context, out) => out.collect(raw.text),
    })
    .sinkTo('out', stdoutSink('out'));
});
