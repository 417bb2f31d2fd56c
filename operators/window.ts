// Event-time window operator: assign, aggregate incrementally, fire once when the watermark passes the end.
// Session windows also merge a key's windows as records bridge them.

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
  /** A key's globalState is dropped once the window watermark is this far past the end of its newest fired window. */
  readonly globalStateTtlMs?: number;
}

/** A window just opened, before its first record or partial is in. */
const NO_ACCUMULATOR: unique symbol = Symbol('no accumulator');

interface OpenWindow {
  readonly start: number;
  readonly end: number;
  accumulator: unknown;
}

interface WindowGroupSnapshot {
  /** [end, key, start, accumulator] */
  readonly windows: Array<[number, string, number, unknown]>;
  global: Record<string, Array<[string, unknown]>>;
  /** With a global-state time to live: [key, end of its newest fired window]. */
  fired?: Array<[string, number]>;
}

export class WindowOperator implements StreamOperator, Collector<unknown>, WindowContext {
  /** Open windows by end, then by key; a window fires for all its keys when the watermark reaches its end. */
  private readonly windowsByEnd = new Map<number, Map<string, OpenWindow>>();
  private readonly pendingEnds = new MinHeap<number>((a, b) => a - b);
  private readonly globalStateBackend: KeyedStateBackend;
  private readonly lateRecords: Counter | undefined;
  private readonly keyOf: (value: unknown) => string;
  /**
   * With a global-state time to live: each key by the end of its newest fired window, oldest first. Windows fire
   * in order of their end and a fire moves its key to the back, so the Map's insertion order is that order and
   * expiry only ever looks at its front.
   */
  private readonly lastFired = new Map<string, number>();
  /** Input watermark minus this window's delay: the event time up to which windows are complete. */
  private windowWatermark = Number.NEGATIVE_INFINITY;
  private firingEnd = 0;
  /** Session windows only: each key's open sessions (they never overlap: a record bridging two merges them). */
  private readonly sessionsByKey: Map<string, OpenWindow[]> | undefined;
  window: TimeWindow = { start: 0, end: 0 };

  constructor(private readonly env: OperatorEnvironment, private readonly spec: WindowOperatorSpec) {
    this.globalStateBackend = new KeyedStateBackend(env.maxParallelism, env.uid);
    this.lateRecords = spec.lateCounter ? env.metrics.counter(spec.lateCounter) : undefined;
    this.keyOf = env.keySelectors[0]!;
    if (spec.assigner.sessionGapMs !== undefined) {
      if (typeof spec.aggregate.merge !== 'function') throw new Error('session windows need an aggregate with merge()');
      this.sessionsByKey = new Map();
    }
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
    this.env.keyScope.current = key;
    if (this.sessionsByKey ? this.addToSession(this.sessionsByKey, key, value, timestamp) : this.addToWindows(key, value, timestamp)) return;
    this.lateRecords?.inc();
    if (this.spec.lateTag) this.env.output.emitSide(this.spec.lateTag, value, timestamp);
  }

  /** False when every window of the record has fired: it is late. */
  private addToWindows(key: string, value: unknown, timestamp: number): boolean {
    let assigned = false;
    for (const window of this.spec.assigner.assign(timestamp)) {
      // Fired once when the watermark reached its end: anything for it now is late.
      if (window.end <= this.windowWatermark) continue;
      assigned = true;
      const open = this.openWindow(key, window.start, window.end);
      open.accumulator = this.spec.aggregate.add(value, open.accumulator === NO_ACCUMULATOR ? this.spec.aggregate.createAccumulator() : open.accumulator);
    }
    return assigned;
  }

  /**
   * Merges the record's window `[t, t + gap)` with the key's open sessions it overlaps or touches (as Flink's
   * TimeWindow.intersects), earliest first, and adds the record. Open sessions end after the watermark, so the
   * record is late only when it touches none and its own window has already ended.
   */
  private addToSession(sessionsByKey: Map<string, OpenWindow[]>, key: string, value: unknown, timestamp: number): boolean {
    const window = this.spec.assigner.assign(timestamp)[0]!;
    const sessions = sessionsByKey.get(key) ?? [];
    const touched = sessions.filter((open) => open.start <= window.end && window.start <= open.end).sort((a, b) => a.start - b.start);
    if (touched.length === 0 && window.end <= this.windowWatermark) return false;
    let start = window.start;
    let end = window.end;
    let accumulator: unknown = touched.length === 0 ? this.spec.aggregate.createAccumulator() : touched[0]!.accumulator;
    for (let i = 0; i < touched.length; i++) {
      const open = touched[i]!;
      if (i > 0) accumulator = this.spec.aggregate.merge!(accumulator, open.accumulator);
      start = Math.min(start, open.start);
      end = Math.max(end, open.end);
      this.closeWindow(key, open.end);
    }
    const merged = this.openWindow(key, start, end);
    merged.accumulator = this.spec.aggregate.add(value, accumulator);
    const kept = sessions.filter((open) => !touched.includes(open));
    kept.push(merged);
    sessionsByKey.set(key, kept);
    return true;
  }

  /** Forgets a key's window that merged into another (its end stays in `pendingEnds`, and finds nothing). */
  private closeWindow(key: string, end: number): void {
    const byKey = this.windowsByEnd.get(end);
    if (!byKey) return;
    byKey.delete(key);
    if (byKey.size === 0) this.windowsByEnd.delete(end);
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
      open = { start, end, accumulator: NO_ACCUMULATOR };
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
      const byKey = this.windowsByEnd.get(end);
      // Sessions that merged away leave their end behind, and an end may be pushed again once its map is gone.
      if (!byKey) continue;
      this.windowsByEnd.delete(end);
      for (const [key, open] of byKey) {
        if (this.sessionsByKey) this.forgetSession(this.sessionsByKey, key, open);
        this.fire(key, open, end);
      }
    }
    this.expireGlobalState(windowWatermark);
    return windowWatermark;
  }

  private forgetSession(sessionsByKey: Map<string, OpenWindow[]>, key: string, fired: OpenWindow): void {
    const remaining = sessionsByKey.get(key)?.filter((open) => open !== fired) ?? [];
    if (remaining.length === 0) sessionsByKey.delete(key);
    else sessionsByKey.set(key, remaining);
  }

  /** Drops the global state of keys whose newest fired window ended the time to live or more before the watermark. */
  private expireGlobalState(windowWatermark: number): void {
    const ttl = this.spec.globalStateTtlMs;
    if (ttl === undefined) return;
    for (const [key, end] of this.lastFired) {
      if (end + ttl > windowWatermark) return;
      this.lastFired.delete(key);
      this.globalStateBackend.clearKey(key);
    }
  }

  private fire(key: string, open: OpenWindow, end: number): void {
    const result = this.spec.aggregate.getResult(open.accumulator);
    this.firingEnd = end;
    this.env.keyScope.current = key;
    if (this.spec.windowFunction) {
      this.window = { start: open.start, end };
      this.globalStateBackend.currentKey = key;
      refuseAsync(this.spec.windowFunction.process(key, result, this, this), 'its window function');
      if (this.spec.globalStateTtlMs !== undefined) {
        this.lastFired.delete(key);
        this.lastFired.set(key, end);
      }
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
    for (const [key, end] of this.lastFired) (groupOf(key).fired ??= []).push([key, end]);
    return { keyGroups, operatorState: { windowWatermark: this.windowWatermark } };
  }

  restoreState(snapshots: readonly OperatorSnapshot[]): void {
    const fired: Array<[string, number]> = [];
    const globalKeys = new Set<string>();
    for (const snapshot of snapshots) {
      const restoredWatermark = (snapshot.operatorState as { windowWatermark?: number } | undefined)?.windowWatermark;
      if (restoredWatermark !== undefined && restoredWatermark > this.windowWatermark) this.windowWatermark = restoredWatermark;
      for (const group of Object.values(snapshot.keyGroups) as WindowGroupSnapshot[]) {
        this.globalStateBackend.restoreKeyGroup(group.global);
        for (const rows of Object.values(group.global)) for (const [key] of rows) globalKeys.add(key);
        if (group.fired) fired.push(...group.fired);
        for (const [end, key, start, accumulator] of group.windows) {
          let byKey = this.windowsByEnd.get(end);
          if (!byKey) {
            byKey = new Map();
            this.windowsByEnd.set(end, byKey);
            this.pendingEnds.push(end);
          }
          const open: OpenWindow = { start, end, accumulator };
          byKey.set(key, open);
          if (this.sessionsByKey) this.sessionsByKey.set(key, [...(this.sessionsByKey.get(key) ?? []), open]);
        }
      }
    }
    this.restoreLastFired(fired, globalKeys);
  }

  /**
   * Puts the restored keys back in order of their newest fired window. A key with global state but no entry (a
   * checkpoint taken without a time to live) counts as fired at the restored window watermark: no window of it
   * can have fired later, so its state is never dropped early.
   */
  private restoreLastFired(fired: Array<[string, number]>, globalKeys: ReadonlySet<string>): void {
    if (this.spec.globalStateTtlMs === undefined) return;
    const known = new Set(fired.map(([key]) => key));
    for (const key of globalKeys) if (!known.has(key)) fired.push([key, this.windowWatermark]);
    fired.sort((a, b) => a[1] - b[1]);
    for (const [key, end] of fired) this.lastFired.set(key, end);
  }
}
