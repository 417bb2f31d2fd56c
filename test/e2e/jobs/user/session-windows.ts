// A user's session-window job: a user's activity until 10 s of event time pass without an event, merged as
// out-of-order events bridge sessions (Flink's EventTimeSessionWindows), with late events on a side output.
import { OutputTag, defineJob, session, tableSink, type AggregateFunction } from 'coattail';
import { parseEvent, type Event } from './events.js';

interface Activity {
  count: number;
  amount: number;
  ids: string[];
}

const activity: AggregateFunction<Event, Activity, Activity> = {
  createAccumulator: () => ({ count: 0, amount: 0, ids: [] }),
  add: (event, acc) => ({ count: acc.count + 1, amount: acc.amount + event.amount, ids: [...acc.ids, event.id] }),
  getResult: (acc) => acc,
  merge: (earlier, later) => ({ count: earlier.count + later.count, amount: earlier.amount + later.amount, ids: [...earlier.ids, ...later.ids] }),
};

const LATE = new OutputTag<Event>('late-session');

export default defineJob('user-session-windows', (env) => {
  const sessions = env
    .source('raw')
    .process('parse', parseEvent)
    .withWatermarks('event-time', { timestamp: (event) => event.t })
    .keyBy('by-user', (event) => event.user)
    .window(session('10s'), { delay: '5s', lateCounter: 'late.session' })
    .sideOutputLateData(LATE)
    .aggregate<Activity, Activity, { user: string; start: number; end: number; count: number; amount: number; ids: string }>('activity', activity, {
      process(user, totals, context, out) {
        const ids = [...totals.ids].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
        out.collect({ user, start: context.window.start, end: context.window.end, count: totals.count, amount: totals.amount, ids: ids.join(' ') });
      },
    });
  sessions.sinkTo(
    'session-sink',
    tableSink({
      name: 'sessions',
      columns: [
        { name: 'user', type: 'string' },
        { name: 'start', type: 'int64' },
        { name: 'end', type: 'int64' },
        { name: 'count', type: 'int64' },
        { name: 'amount', type: 'double' },
        { name: 'ids', type: 'string' },
      ],
    }),
  );
  sessions
    .getSideOutput(LATE)
    .map('late-row', (event) => ({ id: event.id }))
    .sinkTo('late-sink', tableSink({ name: 'late_sessions', columns: [{ name: 'id', type: 'string' }] }));
});
