// A user's keyed-state job: a session per user, closed by an event-time timer GAP after its newest event.
// ValueState (the session), MapState (events per kind), ListState (buy amounts), and a processing-time timer
// per session that only counts (a bounded run ends before it is due, so it must never fire or fail the run).
import {
  defineJob,
  tableSink,
  type Collector,
  type Counter,
  type KeyedContext,
  type KeyedProcessFunction,
  type KeyedRuntimeContext,
  type ListState,
  type MapState,
  type TimerContext,
  type ValueState,
} from 'coattail';
import { parseEvent, type Event } from './events.js';

const GAP_MS = 10_000;

interface Session {
  start: number;
  last: number;
  count: number;
}

/** An interface, not a type alias: tableSink must accept it. */
interface SessionRow {
  user: string;
  start: number;
  end: number;
  events: number;
  views: number;
  buys: number;
  amounts: string;
}

class Sessionizer implements KeyedProcessFunction<Event, SessionRow> {
  private session!: ValueState<Session>;
  private kinds!: MapState<string, number>;
  private amounts!: ListState<number>;
  private wallClockTimers!: Counter;

  open(context: KeyedRuntimeContext): void {
    this.session = context.state.valueState<Session>('session');
    this.kinds = context.state.mapState<string, number>('kinds');
    this.amounts = context.state.listState<number>('amounts');
    this.wallClockTimers = context.metrics.counter('wall_clock_timers');
  }

  processElement(event: Event, context: KeyedContext): void {
    const current = this.session.value();
    if (current) context.timerService.deleteEventTimeTimer(current.last + GAP_MS);
    else context.timerService.registerProcessingTimeTimer(context.timerService.currentProcessingTime() + 600_000);
    const next = current
      ? { start: Math.min(current.start, event.t), last: Math.max(current.last, event.t), count: current.count + 1 }
      : { start: event.t, last: event.t, count: 1 };
    this.session.update(next);
    context.timerService.registerEventTimeTimer(next.last + GAP_MS);
    this.kinds.put(event.kind, (this.kinds.get(event.kind) ?? 0) + 1);
    if (event.kind === 'buy') this.amounts.add(event.amount);
  }

  onTimer(timestamp: number, context: TimerContext, out: Collector<SessionRow>): void {
    if (context.timeDomain === 'processing-time') {
      this.wallClockTimers.inc();
      return;
    }
    const session = this.session.value()!;
    out.collect({
      user: context.key,
      start: session.start,
      end: timestamp,
      events: session.count,
      views: this.kinds.get('view') ?? 0,
      buys: this.kinds.get('buy') ?? 0,
      amounts: this.amounts.get().join(','),
    });
    this.session.clear();
    this.kinds.clear();
    this.amounts.clear();
  }
}

export default defineJob('user-sessions', (env) => {
  env
    .source('raw')
    .process<Event>('parse', parseEvent)
    .withWatermarks('event-time', { timestamp: (event) => event.t })
    .keyBy('by-user', (event) => event.user)
    .process('sessions', new Sessionizer())
    .sinkTo(
      'sessions-sink',
      tableSink({
        name: 'sessions',
        columns: [
          { name: 'user', type: 'string' },
          { name: 'start', type: 'int64' },
          { name: 'end', type: 'int64' },
          { name: 'events', type: 'int64' },
          { name: 'views', type: 'int64' },
          { name: 'buys', type: 'int64' },
          { name: 'amounts', type: 'string' },
        ],
      }),
    );
});
