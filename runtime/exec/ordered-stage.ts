// The coordinator's ordered stage: dedupe and per-split watermarks applied to decoded chunks in source order,
// producing for each routed record the watermark it must see before it (NaN marks a dropped duplicate).

import type { DedupeSpec } from '../graph/logical-graph.js';
import type { DecodeResult, TargetBatch } from './decode-stage.js';
import type { Counter, Metrics } from '../graph/functions.js';

export interface OrderedStageState {
  readonly seen: Array<[string, number]>;
  readonly splitWatermarks: number[];
}

export class OrderedStage {
  /** Dedupe: id -> event time of its first passed occurrence, in insertion order for cheap eviction. */
  private seen = new Map<string, number>();
  private maxSeenTime = Number.NEGATIVE_INFINITY;
  private readonly splitWatermarks: number[] = [];
  private readonly passed: Counter | undefined;
  private readonly duplicates: Counter | undefined;

  constructor(private readonly dedupe: DedupeSpec | undefined, metrics: Metrics) {
    this.passed = dedupe?.passedCounter ? metrics.counter(dedupe.passedCounter) : undefined;
    this.duplicates = dedupe?.duplicateCounter ? metrics.counter(dedupe.duplicateCounter) : undefined;
  }

  splitWatermark(split: number): number {
    return this.splitWatermarks[split] ?? Number.NEGATIVE_INFINITY;
  }

  /** Minimum watermark over the given splits (for status and lag). */
  watermarks(): readonly number[] {
    return this.splitWatermarks;
  }

  /** Returns, per target batch, the stamps to send with it. */
  apply(split: number, result: DecodeResult): Float64Array[] {
    const count = result.orderedCount;
    // before[k]: the split's watermark before ordered record k; before[count]: after the chunk.
    const before = new Float64Array(count + 1);
    const duplicate = new Uint8Array(count);
    let watermark = this.splitWatermark(split);
    const { dedupeKeys, dedupeTimes, eventTimes } = result;
    for (let k = 0; k < count; k++) {
      before[k] = watermark;
      if (dedupeKeys && this.isDuplicate(dedupeKeys[k]!, dedupeTimes![k]!)) {
        duplicate[k] = 1;
        this.duplicates?.inc();
        continue;
      }
      this.passed?.inc();
      if (eventTimes) {
        const time = eventTimes[k]!;
        if (time > watermark) watermark = time;
      }
    }
    before[count] = watermark;
    this.splitWatermarks[split] = watermark;
    this.evictExpired();
    return result.targets.map((target) => stampsFor(target, before, duplicate));
  }

  private isDuplicate(id: string, time: number): boolean {
    const first = this.seen.get(id);
    if (first !== undefined && time - first <= this.dedupe!.withinMs) return true;
    if (first === undefined || time > first) this.seen.set(id, time);
    if (time > this.maxSeenTime) this.maxSeenTime = time;
    return false;
  }

  /**
   * Ids first seen more than two horizons before the newest event time can only match records over one
   * horizon late; dropping them keeps the state bounded by event time, not by input length.
   */
  private evictExpired(): void {
    if (!this.dedupe) return;
    const horizon = this.maxSeenTime - 2 * this.dedupe.withinMs;
    for (const [id, time] of this.seen) {
      if (time >= horizon) break;
      this.seen.delete(id);
    }
  }

  snapshot(): OrderedStageState {
    return { seen: [...this.seen], splitWatermarks: [...this.splitWatermarks] };
  }

  restore(state: OrderedStageState): void {
    this.seen = new Map(state.seen);
    for (const [, time] of state.seen) if (time > this.maxSeenTime) this.maxSeenTime = time;
    state.splitWatermarks.forEach((watermark, split) => (this.splitWatermarks[split] = watermark));
  }
}

function stampsFor(target: TargetBatch, before: Float64Array, duplicate: Uint8Array): Float64Array {
  const stamps = new Float64Array(target.count);
  const indexes = target.orderedIndex;
  for (let i = 0; i < stamps.length; i++) {
    const k = indexes[i]!;
    stamps[i] = k >= 0 ? (duplicate[k] ? Number.NaN : before[k]!) : before[-k - 1]!;
  }
  return stamps;
}
