// Keyed process and co-process operators: per-key state and event/processing-time timers.

import type {
  Collector,
  CoProcessFunction,
  KeyedProcessFunction,
  OutputTag,
  TimerContext,
  TimerService,
} from '../runtime/graph/functions.js';
import type { OperatorEnvironment, OperatorSnapshot, StreamOperator } from '../runtime/exec/stream-operator.js';
import { KeyedStateBackend } from '../runtime/state/keyed-state-backend.js';
import { TimerQueue, type Timer } from '../runtime/time/timer-queue.js';
import { keyGroupFor } from '../runtime/plan/key-groups.js';
import { refuseAsync } from './synchronous.js';

interface KeyedGroupSnapshot {
  readonly state: Record<string, Array<[string, unknown]>>;
  readonly eventTime: Timer[];
  readonly processingTime: Timer[];
}

/** The context handed to user code: current key, timestamp, timers, side outputs. */
class KeyedContextImpl implements TimerContext, Collector<unknown> {
  key = '';
  timestamp: number | null = null;
  currentWatermark = Number.NEGATIVE_INFINITY;
  timeDomain: 'event-time' | 'processing-time' = 'event-time';
  readonly timerService: TimerService;

  constructor(
    private readonly env: OperatorEnvironment,
    private readonly eventTimers: TimerQueue,
    private readonly processingTimers: TimerQueue,
  ) {
    this.timerService = {
      currentWatermark: () => this.currentWatermark,
      currentProcessingTime: () => Date.now(),
      registerEventTimeTimer: (timestamp) => this.eventTimers.register(timestamp, this.key),
      deleteEventTimeTimer: (timestamp) => this.eventTimers.delete(timestamp, this.key),
      registerProcessingTimeTimer: (timestamp) => this.processingTimers.register(timestamp, this.key),
      deleteProcessingTimeTimer: (timestamp) => this.processingTimers.delete(timestamp, this.key),
    };
  }

  collect(value: unknown): void {
    this.env.output.emit(value, this.timestamp);
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.env.output.emitSide(tag.id, value, this.timestamp);
  }
}

type TwoInputFunction = CoProcessFunction<unknown, unknown, unknown>;

export class KeyedProcessOperator implements StreamOperator {
  private readonly state: KeyedStateBackend;
  private readonly eventTimers = new TimerQueue();
  private readonly processingTimers = new TimerQueue();
  private readonly context: KeyedContextImpl;
  private readonly coFunction: TwoInputFunction;
  /** For messages: what the user's function calls its per-record methods. */
  private readonly inputFunctionNames: readonly [string, string];

  constructor(
    private readonly env: OperatorEnvironment,
    fn: KeyedProcessFunction<unknown, unknown> | TwoInputFunction,
  ) {
    this.state = new KeyedStateBackend(env.maxParallelism, env.uid);
    this.context = new KeyedContextImpl(env, this.eventTimers, this.processingTimers);
    // A one-input function is a co-function whose second input never receives records.
    this.inputFunctionNames = 'processElement1' in fn ? ['processElement1', 'processElement2'] : ['processElement', 'processElement'];
    this.coFunction =
      'processElement1' in fn
        ? fn
        : {
            open: fn.open?.bind(fn),
            processElement1: fn.processElement.bind(fn),
            processElement2: () => undefined,
            ...(fn.onTimer ? { onTimer: fn.onTimer.bind(fn) } : {}),
          };
  }

  open(): void {
    const opened = this.coFunction.open?.({
      subtaskIndex: this.env.subtaskIndex,
      parallelism: this.env.parallelism,
      metrics: this.env.metrics,
      state: this.state,
    });
    refuseAsync(opened, 'open()');
  }

  processElement(value: unknown, timestamp: number | null, port: 1 | 2): void {
    const key = this.env.keySelectors[port - 1]!(value);
    this.env.keyScope.current = key;
    this.context.key = key;
    this.state.currentKey = key;
    this.context.timestamp = timestamp;
    this.context.timeDomain = 'event-time';
    if (port === 1) refuseAsync(this.coFunction.processElement1(value, this.context, this.context), this.inputFunctionNames[0]);
    else refuseAsync(this.coFunction.processElement2(value, this.context, this.context), this.inputFunctionNames[1]);
  }

  onWatermark(watermark: number): number {
    this.context.currentWatermark = watermark;
    for (let timer = this.eventTimers.pollDue(watermark); timer; timer = this.eventTimers.pollDue(watermark)) {
      this.fire(timer, 'event-time');
    }
    return watermark;
  }

  onProcessingTime(now: number): void {
    for (let timer = this.processingTimers.pollDue(now); timer; timer = this.processingTimers.pollDue(now)) {
      this.fire(timer, 'processing-time');
    }
  }

  private fire(timer: Timer, domain: 'event-time' | 'processing-time'): void {
    if (!this.coFunction.onTimer) return;
    this.env.keyScope.current = timer.key;
    this.context.key = timer.key;
    this.state.currentKey = timer.key;
    this.context.timestamp = domain === 'event-time' ? timer.timestamp : null;
    this.context.timeDomain = domain;
    refuseAsync(this.coFunction.onTimer(timer.timestamp, this.context, this.context), 'onTimer');
  }

  snapshotState(): OperatorSnapshot {
    const keyGroups: Record<number, KeyedGroupSnapshot> = {};
    const groupOf = (key: string) => (keyGroups[keyGroupFor(key, this.env.maxParallelism)] ??= { state: {}, eventTime: [], processingTime: [] });
    for (const [group, state] of Object.entries(this.state.snapshotByKeyGroup())) {
      keyGroups[Number(group)] = { state, eventTime: [], processingTime: [] };
    }
    for (const timer of this.eventTimers.toArray()) groupOf(timer.key).eventTime.push(timer);
    for (const timer of this.processingTimers.toArray()) groupOf(timer.key).processingTime.push(timer);
    return { keyGroups };
  }

  restoreState(snapshots: readonly OperatorSnapshot[]): void {
    for (const snapshot of snapshots) {
      for (const group of Object.values(snapshot.keyGroups) as KeyedGroupSnapshot[]) {
        this.state.restoreKeyGroup(group.state);
        for (const timer of group.eventTime) this.eventTimers.register(timer.timestamp, timer.key);
        for (const timer of group.processingTime) this.processingTimers.register(timer.timestamp, timer.key);
      }
    }
  }
}
