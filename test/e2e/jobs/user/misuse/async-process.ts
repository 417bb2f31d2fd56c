// An async keyed processElement: after its await, state would be written under whichever key is current then.
import { defineJob, stdoutSink, type Collector, type KeyedContext, type KeyedRuntimeContext, type ValueState } from 'coattail';

interface Numbered { n: number }

let total: ValueState<number>;

export default defineJob('misuse-async-process', (env) => {
  env
    .source('raw')
    .map('parse', (raw) => JSON.parse(raw.text) as Numbered)
    .keyBy('by-rest', (record) => String(record.n % 5))
    .process('running-total', {
      open(context: KeyedRuntimeContext) {
        total = context.state.valueState<number>('total');
      },
      async processElement(record: Numbered, _context: KeyedContext, out: Collector<number>) {
        await Promise.resolve();
        total.update((total.value() ?? 0) + record.n);
        out.collect(total.value()!);
      },
    })
    .sinkTo('out', stdoutSink('out'));
});
