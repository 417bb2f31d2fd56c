// The user-facing function interfaces of the job API, modelled on Flink's DataStream functions.

import type { Duration } from '../time/duration.js';

/** Names a side output; the id is also its stable identifier in plans. */
export class OutputTag<T> {
  declare readonly __type?: T;
  constructor(readonly id: string) {}
}

export interface Collector<T> {
  collect(value: T): void;
}

export interface Counter {
  inc(by?: number): void;
}

/** Counters are summed over subtasks; dotted names (`late_dropped.volume`) nest in `_summary.json`. */
export interface Metrics {
  counter(name: string): Counter;
}

export interface RuntimeContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly metrics: Metrics;
}

export interface ProcessContext {
  /** Event time of the current record, or null when no timestamp is assigned yet. */
  readonly timestamp: number | null;
  readonly currentWatermark: number;
  output<X>(tag: OutputTag<X>, value: X): void;
}

export interface ProcessFunction<In, Out> {
  open?(context: RuntimeContext): void;
  processElement(value: In, context: ProcessContext, out: Collector<Out>): void;
  close?(): void;
}

export type ProcessFn<In, Out> = (value: In, context: ProcessContext, out: Collector<Out>) => void;

// ----- keyed state -----

export interface ValueState<T> {
  value(): T | undefined;
  update(value: T | undefined): void;
  clear(): void;
}

export interface MapState<K extends string | number, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  has(key: K): boolean;
  remove(key: K): void;
  entries(): IterableIterator<[K, V]>;
  clear(): void;
}

export interface ListState<T> {
  get(): readonly T[];
  add(value: T): void;
  update(values: T[]): void;
  clear(): void;
}

/** Keyed state handles; every access is scoped to the key of the record or timer being processed. */
export interface KeyedStateStore {
  valueState<T>(name: string): ValueState<T>;
  mapState<K extends string | number, V>(name: string): MapState<K, V>;
  listState<T>(name: string): ListState<T>;
}

export interface KeyedRuntimeContext extends RuntimeContext {
  readonly state: KeyedStateStore;
}

export interface TimerService {
  currentWatermark(): number;
  currentProcessingTime(): number;
  registerEventTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  registerProcessingTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

export interface KeyedContext extends ProcessContext {
  readonly key: string;
  readonly timerService: TimerService;
}

export interface TimerContext extends KeyedContext {
  readonly timeDomain: 'event-time' | 'processing-time';
}

export interface KeyedProcessFunction<In, Out> {
  open?(context: KeyedRuntimeContext): void;
  processElement(value: In, context: KeyedContext, out: Collector<Out>): void;
  onTimer?(timestamp: number, context: TimerContext, out: Collector<Out>): void;
  close?(): void;
}

/** Two inputs into one function, as Flink's CoProcessFunction (keyed when both inputs are keyed). */
export interface CoProcessFunction<In1, In2, Out> {
  open?(context: KeyedRuntimeContext): void;
  processElement1(value: In1, context: KeyedContext, out: Collector<Out>): void;
  processElement2(value: In2, context: KeyedContext, out: Collector<Out>): void;
  onTimer?(timestamp: number, context: TimerContext, out: Collector<Out>): void;
}

// ----- windows -----

export interface TimeWindow {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface WindowAssigner {
  readonly description: string;
  /** The windows an event-time timestamp belongs to, in ascending order of start. */
  assign(timestamp: number): TimeWindow[];
  /**
   * Set by session windows: a key's windows that overlap or touch merge into one (Flink's merging window
   * assigners), so a session ends only after this much event time without a record of its key.
   */
  readonly sessionGapMs?: number;
}

export interface AggregateFunction<In, Acc, Out> {
  createAccumulator(): Acc;
  add(value: In, accumulator: Acc): Acc;
  getResult(accumulator: Acc): Out;
  /**
   * Combines two accumulators of the same key and window, the earlier records' first. With it, a window fed
   * straight by keyBy is pre-aggregated where records are parsed (Flink's local-global aggregation): each
   * chunk sends one accumulator per key and window instead of its records. Floating-point sums may then
   * differ in the last digits from adding one record at a time.
   */
  merge?(earlier: Acc, later: Acc): Acc;
}

export interface WindowContext {
  readonly window: TimeWindow;
  readonly currentWatermark: number;
  /** State of the key that outlives windows, as Flink's `ProcessWindowFunction.Context#globalState`. */
  readonly globalState: KeyedStateStore;
  output<X>(tag: OutputTag<X>, value: X): void;
}

/** Called once per fired window with the aggregate (or the list of elements for `process`). */
export interface ProcessWindowFunction<In, Out> {
  open?(context: RuntimeContext): void;
  process(key: string, input: In, context: WindowContext, out: Collector<Out>): void;
}

export interface WindowOptions {
  /**
   * Bounded out-of-orderness of this window's event time: it fires when the input watermark (max event time
   * seen on every split) minus `delay` reaches its end. Lets one source feed windows with different delays.
   */
  readonly delay?: Duration;
  /** Late records (whose window already fired) are counted under this metric name. */
  readonly lateCounter?: string;
  /**
   * Event-time time to live of each key's `globalState`: it is dropped once the window watermark is this far past
   * the end of the key's newest fired window (as Flink's state TTL, but in event time, so results do not depend on
   * the pace of the input). Without it a key's global state lives as long as the job, so a job whose keys come and
   * go holds state for every key it ever saw. Choose it so that state this old can no longer change a result.
   */
  readonly globalStateTtl?: Duration;
}
