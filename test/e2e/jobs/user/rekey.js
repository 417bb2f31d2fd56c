// A user's plain-JS job keying twice by the same key: 10 s totals per user, then a keyed process over each
// user's windows in order (a running count and the change from the window before), as Flink's
// reinterpretAsKeyedStream would let it.
import { defineJob, tableSink, tumbling } from 'coattail';
import { parseLine, sumAmounts } from './window-math.js';

const column = (name, type) => ({ name, type });

export default defineJob('user-rekey', (env) => {
  env
    .source('raw')
    .process('parse', parseLine)
    .withWatermarks('event-time', { timestamp: (event) => event.t })
    .keyBy('by-user', (event) => event.user)
    .window(tumbling('10s'), { delay: '5s' })
    .aggregate('sum-10s', sumAmounts, {
      process(user, sum, context, out) {
        out.collect({ user, start: context.window.start, amount: sum.amount });
      },
    })
    .keyBy('by-user-again', (total) => total.user)
    .process('change', {
      open(context) {
        this.previous = context.state.valueState('previous');
        this.windows = context.state.valueState('windows');
      },
      processElement(total, _context, out) {
        const windows = (this.windows.value() ?? 0) + 1;
        out.collect({ user: total.user, start: total.start, windows, change: total.amount - (this.previous.value() ?? 0) });
        this.previous.update(total.amount);
        this.windows.update(windows);
      },
    })
    .sinkTo('change-sink', tableSink({ name: 'changes', columns: [column('user', 'string'), column('start', 'int64'), column('windows', 'int64'), column('change', 'double')] }));
});
