// Event-time window operator: assign, aggregate incrementally, fire once when the watermark passes the end.

import type {
  AggregateFunction,
  Collector,
  OutputTag,
  ProcessWindowFunction,
  TimeWindow,
  WindowAssigner,
  WindowContext,
} from '../runtime/graph/functions.js';
import type { Counter } from '../runtime/graph/functions.js';
import type { OperatorEnvironment, OperatorSnapshot, StreamOperator } from '../runtime/exec/stream-operator.js';
import { KeyedStateBackend } from '../runtime/state/keyed-state-backend.js';
import { MinHeap } from '../runtime/time/min-heap.js';
import { keyGroupFor } from '../runtime/plan/key-groups.js';
import type { PartialAggregate } from '../runtime/exec/pre-aggregation.js';
import { refuseAsync } from './synchronous.js';

export interface WindowOperatorSpec {
  readonly assigner: WindowAssigner;
  readonly delayMs: number;
  readonly aggregate: AggregateFunction<unknown, unknown, unknown>;
  readonly windowFunction?: ProcessWindowFunction<unknown, unknown>;
  readonly lateTag?: string;
  readonly lateCounter?: string;
}

/** A window just opened, before its first record or partial is in. */
const NO_ACCUMULATOR: unique symbol = Symbol('no accumulator');

interface OpenWindow {
  readonly start: number;
  accumulator: unknown;
}

interface WindowGroupSnapshot {
  /** [end, key, start, accumulator] */
  readonly windows: Array<[number, string, number, unknown]>;
  global: Record<string, Array<[string, unknown]>>;
}

export class WindowOperator implements StreamOperator, Collector<unknown>, WindowContext {
  /** Open windows by end, then by key; a window fires for all its keys when the watermark reaches its end. */
  private readonly windowsByEnd = new Map<number, Map<string, OpenWindow>>();
  private readonly pendingEnds = new MinHeap<number>((a, b) => a - b);
  private readonly globalStateBackend: KeyedStateBackend;
  private readonly lateRecords: Counter | undefined;
  private readonly keyOf: (value: unknown) => string;
  /** Input watermark minus this window's delay: the event time up to which windows are complete. */
  private windowWatermark = Number.NEGATIVE_INFINITY;
  private firingEnd = 0;
  window: TimeWindow = { start: 0, end: 0 };

  constructor(private readonly env: OperatorEnvironment, private readonly spec: WindowOperatorSpec) {
    this.globalStateBackend = new KeyedStateBackend(env.maxParallelism, env.uid);
    this.lateRecords = spec.lateCounter ? env.metrics.counter(spec.lateCounter) : undefined;
    this.keyOf = env.keySelectors[0]!;
  }

  get currentWatermark(): number {
    return this.windowWatermark;
  }

  get globalState() {
    return this.globalStateBackend;
  }

  open(): void {
    refuseAsync(this.spec.windowFunction?.open?.({ subtaskIndex: this.env.subtaskIndex, parallelism: this.env.parallelism, metrics: this.env.metrics }), 'open()');
  }

  processElement(value: unknown, timestamp: number | null): void {
    if (timestamp === null) throw new Error('a window needs event time: add withWatermarks(...) before keyBy');
    const key = this.keyOf(value);
    let assigned = false;
    for (const window of this.spec.assigner.assign(timestamp)) {
      // Fired once when the watermark reached its end: anything for it now is late.
      if (window.end <= this.windowWatermark) continue;
      assigned = true;
      const open = this.openWindow(key, window.start, window.end);
      open.accumulator = this.spec.aggregate.add(value, open.accumulator === NO_ACCUMULATOR ? this.spec.aggregate.createAccumulator() : open.accumulator);
    }
    if (!assigned) {
      this.lateRecords?.inc();
      if (this.spec.lateTag) this.env.output.emitSide(this.spec.lateTag, value, timestamp);
    }
  }

  processPartial(partial: unknown): void {
    const [key, start, end, accumulator] = partial as PartialAggregate;
    // The coordinator only sends partials that cannot be late (pre-aggregation.ts); one that is would lose records.
    if (end <= this.windowWatermark) {
      throw new Error(`internal error: a pre-aggregated window [${start}, ${end}) of key "${key}" arrived after it fired`);
    }
    const open = this.openWindow(key, start, end);
    open.accumulator = open.accumulator === NO_ACCUMULATOR ? accumulator : this.spec.aggregate.merge!(open.accumulator, accumulator);
  }

  private openWindow(key: string, start: number, end: number): OpenWindow {
    let byKey = this.windowsByEnd.get(end);
    if (!byKey) {
      byKey = new Map();
      this.windowsByEnd.set(end, byKey);
      this.pendingEnds.push(end);
    }
    let open = byKey.get(key);
    if (!open) {
      open = { start, accumulator: NO_ACCUMULATOR };
      byKey.set(key, open);
    }
    return open;
  }

  onWatermark(watermark: number): number {
    const windowWatermark = watermark - this.spec.delayMs;
    if (windowWatermark <= this.windowWatermark) return this.windowWatermark;
    this.windowWatermark = windowWatermark;
    for (let end = this.pendingEnds.peek(); end !== undefined && end <= windowWatermark; end = this.pendingEnds.peek()) {
      this.pendingEnds.pop();
      const byKey = this.windowsByEnd.get(end)!;
      this.windowsByEnd.delete(end);
      for (const [key, open] of byKey) this.fire(key, open, end);
    }
    return windowWatermark;
  }

  private fire(key: string, open: OpenWindow, end: number): void {
    const result = this.spec.aggregate.getResult(open.accumulator);
    this.firingEnd = end;
    if (this.spec.windowFunction) {
      this.window = { start: open.start, end };
      this.globalStateBackend.currentKey = key;
      refuseAsync(this.spec.windowFunction.process(key, result, this, this), 'its window function');
    } else {
      this.env.output.emit(result, end - 1);
    }
  }

  collect(value: unknown): void {
    this.env.output.emit(value, this.firingEnd - 1);
  }

  output<X>(tag: OutputTag<X>, value: X): void {
    this.env.output.emitSide(tag.id, value, this.firingEnd - 1);
  }

  snapshotState(): OperatorSnapshot {
    const keyGroups: Record<number, WindowGroupSnapshot> = {};
    const groupOf = (key: string) => (keyGroups[keyGroupFor(key, this.env.maxParallelism)] ??= { windows: [], global: {} });
    for (const [end, byKey] of this.windowsByEnd) {
      for (const [key, open] of byKey) groupOf(key).windows.push([end, key, open.start, open.accumulator]);
    }
    for (const [group, global] of Object.entries(this.globalStateBackend.snapshotByKeyGroup())) {
      (keyGroups[Number(group)] ??= { windows: [], global: {} }).global = global;
    }
    return { keyGroups, operatorState: { windowWatermark: this.windowWatermark } };
  }

  restoreState(snapshots: readonly OperatorSnapshot[]): void {
    for (const snapshot of snapshots) {
      const restoredWatermark = (snapshot.operatorState as { windowWatermark?: number } | undefined)?.windowWatermark;
      if (restoredWatermark !== undefined && restoredWatermark > this.windowWatermark) this.windowWatermark = restoredWatermark;
      for (const group of Object.values(snapshot.keyGroups) as WindowGroupSnapshot[]) {
        this.globalStateBackend.restoreKeyGroup(group.global);
        for (const [end, key, start, accumulator] of group.windows) {
          let byKey = this.windowsByEnd.get(end);
          if (!byKey) {
            byKey = new Map();
            this.windowsByEnd.set(end, byKey);
            this.pendingEnds.push(end);
          }
          byKey.set(key, { start, accumulator });
        }
      }
    }
  }
}
