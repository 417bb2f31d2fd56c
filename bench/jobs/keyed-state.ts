// Benchmark job: one ValueState per key, so a checkpoint holds exactly as many keys as the input names.
// Input lines look like {"key":"k123","amount":4.5}; nothing is emitted, only state grows.

import {
  defineJob,
  type Collector,
  type KeyedProcessFunction,
  type KeyedRuntimeContext,
  type ProcessContext,
  type RawRecord,
  type SinkFactory,
  type ValueState,
} from 'coattail';

interface KeyedAmount {
  readonly key: string;
  readonly amount: number;
}

/** What each key keeps: a few numbers, about the size of a running aggregate in a real job. */
interface KeyTotals {
  count: number;
  total: number;
  last: number;
}

function parseLine(raw: RawRecord, _context: ProcessContext, out: Collector<KeyedAmount>): void {
  const value = JSON.parse(raw.text) as { key?: unknown; amount?: unknown };
  if (typeof value.key === 'string' && typeof value.amount === 'number') out.collect({ key: value.key, amount: value.amount });
}

/** The state is the point of this job; nothing reaches the sink. */
function nothingSink(): SinkFactory<never> {
  return {
    name: 'nothing',
    create() {
      return {
        write() {},
        async prepareCommit() {
          return null;
        },
        async commit() {},
        async finish() {
          return 0;
        },
        async abort() {},
      };
    },
  };
}

class RunningTotals implements KeyedProcessFunction<KeyedAmount, never> {
  private totals!: ValueState<KeyTotals>;

  open(context: KeyedRuntimeContext): void {
    this.totals = context.state.valueState<KeyTotals>('totals');
  }

  processElement(record: KeyedAmount): void {
    const current = this.totals.value() ?? { count: 0, total: 0, last: 0 };
    this.totals.update({ count: current.count + 1, total: current.total + record.amount, last: record.amount });
  }
}

export default defineJob('bench-keyed-state', (env) => {
  env
    .source('lines')
    .process<KeyedAmount>('parse', parseLine)
    .keyBy('by-key', (record) => record.key)
    .process<never>('totals', new RunningTotals())
    .sinkTo('nothing', nothingSink());
});
