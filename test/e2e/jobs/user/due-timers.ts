// A processing-time timer already due when it is registered (one per user, at the first event), and one that a
// bounded run never reaches: the due ones fire exactly once, even when the input ends before the next tick.
import { defineJob, stdoutSink, type Counter, type KeyedContext, type KeyedProcessFunction, type KeyedRuntimeContext, type TimerContext, type ValueState } from 'coattail';
import { parseEvent, type Event } from './events.js';

class DueTimers implements KeyedProcessFunction<Event, string> {
  private armed!: ValueState<boolean>;
  private due!: Counter;
  private far!: Counter;

  open(context: KeyedRuntimeContext): void {
    this.armed = context.state.valueState<boolean>('armed');
    this.due = context.metrics.counter('due_timers');
    this.far = context.metrics.counter('far_timers');
  }

  processElement(_event: Event, context: KeyedContext): void {
    if (this.armed.value()) return;
    this.armed.update(true);
    const now = context.timerService.currentProcessingTime();
    context.timerService.registerProcessingTimeTimer(now - 1);
    context.timerService.registerProcessingTimeTimer(now + 600_000);
  }

  onTimer(timestamp: number, context: TimerContext): void {
    if (timestamp > context.timerService.currentProcessingTime()) this.far.inc();
    else this.due.inc();
  }
}

export default defineJob('user-due-timers', (env) => {
  env
    .source('raw')
    .process<Event>('parse', parseEvent)
    .withWatermarks('event-time', { timestamp: (event) => event.t })
    .keyBy('by-user', (event) => event.user)
    .process('due-timers', new DueTimers())
    .sinkTo('nothing', stdoutSink<string>('nothing'));
});
