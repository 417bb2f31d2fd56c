// A user's job that unions two filtered branches of one stream and then keys the union (a common Flink shape).
import { defineJob, tableSink, tumbling } from 'coattail';
import { parseEvent, type Event } from './events.js';

export default defineJob('user-union-keyed', (env) => {
  const events = env.source('raw').process<Event>('parse', parseEvent).withWatermarks('event-time', { timestamp: (event) => event.t });
  const views = events.filter('views', (event) => event.kind === 'view');
  const bigBuys = events.filter('big-buys', (event) => event.kind === 'buy' && event.amount > 4);
  views
    .union(bigBuys)
    .keyBy('by-user', (event) => event.user)
    .window(tumbling('1m'), { delay: '5s' })
    .aggregate<number, number, { user: string; start: number; n: number }>(
      'count',
      { createAccumulator: () => 0, add: (_event, n) => n + 1, getResult: (n) => n, merge: (a, b) => a + b },
      {
        process(user, n, context, out) {
          out.collect({ user, start: context.window.start, n });
        },
      },
    )
    .sinkTo('counts-sink', tableSink({ name: 'counts', columns: [{ name: 'user', type: 'string' }, { name: 'start', type: 'int64' }, { name: 'n', type: 'int64' }] }));
});
