// The coordinator's ordered stage: dedupe and per-split watermarks applied to decoded chunks in source order,
// producing for each routed record the watermark it must see before it (NaN marks a dropped duplicate).

import type { DedupeSpec } from '../graph/logical-graph.js';
import type { DecodeResult, TargetBatch } from './decode-result.js';
import type { Counter, Metrics } from '../graph/functions.js';
import { DedupeJournal, type DedupeSegmentData } from './dedupe-journal.js';

export interface OrderedStageState {
  /** Keys of the dedupe segments (shared checkpoint files), oldest first. */
  readonly dedupeSegments: string[];
  readonly maxSeenTime: number;
  readonly splitWatermarks: number[];
}

export class OrderedStage {
  /** Dedupe: id -> event time of its first passed occurrence, kept as a journal of segments. */
  private readonly journal = new DedupeJournal();
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

  /** Returns, per target batch, the stamps to send with it. */
  apply(split: number, result: DecodeResult): Float64Array[] {
    const count = result.orderedCount;
    // before[k]: the split's watermark before ordered record k; before[count]: after the chunk.
    const before = new Float64Array(count + 1);
    const duplicate = new Uint8Array(count);
    let watermark = this.splitWatermark(split);
    const { dedupeKeys, dedupeHashes, dedupeTimes, eventTimes } = result;
    for (let k = 0; k < count; k++) {
      before[k] = watermark;
      if (dedupeKeys) {
        const keyStart = k === 0 ? 0 : dedupeKeys.ends[k - 1]!;
        if (this.isDuplicate(dedupeKeys.chars, keyStart, dedupeKeys.ends[k]!, dedupeHashes![k]!, dedupeTimes![k]!)) {
          duplicate[k] = 1;
          this.duplicates?.inc();
          continue;
        }
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

  /** Whether the id `chars[start, end)` passed within the horizon before; if not, it passes now. */
  private isDuplicate(chars: Uint16Array, start: number, end: number, hash: number, time: number): boolean {
    const horizon = this.dedupe!.withinMs;
    let first = this.journal.firstTime(chars, start, end, hash);
    // Forgotten once the newest event time is two horizons past it, whether or not its segment has been dropped
    // yet: segments end at checkpoints and at a size, and the outcome must not depend on where.
    if (first !== undefined && first < this.maxSeenTime - 2 * horizon) first = undefined;
    if (first !== undefined && time - first <= horizon) return true;
    if (first === undefined || time > first) this.journal.add(chars, start, end, hash, time);
    if (time > this.maxSeenTime) this.maxSeenTime = time;
    return false;
  }

  /**
   * Ids first seen more than two horizons before the newest event time can only match records over one
   * horizon late, and `isDuplicate` ignores them already; dropping their segments keeps the state bounded by
   * event time, not by input length.
   */
  private evictExpired(): void {
    if (this.dedupe) this.journal.evictBefore(this.maxSeenTime - 2 * this.dedupe.withinMs);
  }

  /** State for a checkpoint, plus the dedupe segments not stored by an earlier checkpoint. */
  snapshot(segmentKey: (index: number) => string): { state: OrderedStageState; files: Array<{ key: string; data: DedupeSegmentData }> } {
    const { keys, files } = this.journal.prepareCheckpoint(segmentKey);
    return { state: { dedupeSegments: keys, maxSeenTime: this.maxSeenTime, splitWatermarks: [...this.splitWatermarks] }, files };
  }

  /** The checkpoint holding these segment keys completed. */
  confirmSnapshot(state: OrderedStageState): void {
    this.journal.confirm(state.dedupeSegments);
  }

  restore(state: OrderedStageState, segments: ReadonlyArray<{ key: string; data: DedupeSegmentData }>): void {
    this.journal.restore(segments);
    this.maxSeenTime = state.maxSeenTime;
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
