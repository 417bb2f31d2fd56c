// A user's plain-JS window job: 10 s tumbling sums (a mergeable aggregate), 20 s windows sliding by 10 s
// with a ProcessWindowFunction over the elements, both with late records on side outputs and counted,
// and a 30 s tumbling reduce.
import { OutputTag, defineJob, sliding, tableSink, tumbling } from 'coattail';
import { parseLine, sumAmounts } from './window-math.js';

const LATE_TUMBLING = new OutputTag('late-tumbling');
const LATE_SLIDING = new OutputTag('late-sliding');
const column = (name, type) => ({ name, type });
const lateTable = (name) => tableSink({ name, columns: [column('id', 'string')] });

export default defineJob('user-windows', (env) => {
  const events = env.source('raw').process('parse', parseLine).withWatermarks('event-time', { timestamp: (event) => event.t });

  const sums = events
    .keyBy('by-user', (event) => event.user)
    .window(tumbling('10s'), { delay: '5s', lateCounter: 'late.tumbling' })
    .sideOutputLateData(LATE_TUMBLING)
    .aggregate('sum-10s', sumAmounts, {
      process(user, sum, context, out) {
        out.collect({ user, start: context.window.start, end: context.window.end, count: sum.count, amount: sum.amount });
      },
    });
  sums.sinkTo('tumbling-sink', tableSink({ name: 'tumbling', columns: [column('user', 'string'), column('start', 'int64'), column('end', 'int64'), column('count', 'int64'), column('amount', 'double')] }));
  sums.getSideOutput(LATE_TUMBLING).map('late-tumbling-row', (event) => ({ id: event.id })).sinkTo('late-tumbling-sink', lateTable('late_tumbling'));

  const slidingLists = events
    .keyBy('by-user-sliding', (event) => event.user)
    .window(sliding('20s', '10s'), { delay: '5s', lateCounter: 'late.sliding' })
    .sideOutputLateData(LATE_SLIDING)
    .process('sliding-ids', {
      process(user, elements, context, out) {
        const ids = elements.map((event) => event.id).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
        out.collect({ user, start: context.window.start, end: context.window.end, ids: ids.join(' ') });
      },
    });
  slidingLists.sinkTo('sliding-sink', tableSink({ name: 'sliding', columns: [column('user', 'string'), column('start', 'int64'), column('end', 'int64'), column('ids', 'string')] }));
  slidingLists.getSideOutput(LATE_SLIDING).map('late-sliding-row', (event) => ({ id: event.id })).sinkTo('late-sliding-sink', lateTable('late_sliding'));

  events
    .keyBy('by-kind', (event) => event.kind)
    .window(tumbling('30s'), { delay: '5s' })
    .reduce('max-amount', (a, b) => (b.amount > a.amount ? b : a), {
      process(kind, max, context, out) {
        out.collect({ kind, start: context.window.start, id: max.id });
      },
    })
    .sinkTo('max-sink', tableSink({ name: 'max_amount', columns: [column('kind', 'string'), column('start', 'int64'), column('id', 'string')] }));
});
