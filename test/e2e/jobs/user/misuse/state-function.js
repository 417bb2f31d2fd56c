// A function kept in keyed state: it runs until a checkpoint has to store it.
import { defineJob, stdoutSink } from 'coattail';

export default defineJob('misuse-state-function', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text))
    .keyBy('by-rest', (record) => String(record.n % 3))
    .process('remember', {
      open(context) {
        this.describe = context.state.valueState('describe');
      },
      processElement(record, _context, out) {
        this.describe.update(() => `last was ${record.n}`);
        out.collect(record.n);
      },
    })
    .sinkTo('out', stdoutSink('out', () => ''));
});
