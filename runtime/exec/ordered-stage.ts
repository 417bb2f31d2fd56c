// The coordinator's ordered stage: dedupe and per-split watermarks applied to decoded chunks in source order,
// producing for each routed record the watermark it must see before it (NaN marks a dropped duplicate).

import type { DedupeSpec } from '../graph/logical-graph.js';
import type { DecodeResult, TargetBatch } from './decode-result.js';
import type { Counter, Metrics } from '../graph/functions.js';
import { DedupeJournal, type DedupeSegmentData } from './dedupe-journal.js';

export interface OrderedStageState {
  /** Keys of the dedupe segments (shared checkpoint files), oldest first. */
  readonly dedupeSegments: string[];
  /** The dedupe clock (see `OrderedStage`); named for what it was when there was one split. */
  readonly maxSeenTime: number;
  readonly splitWatermarks: number[];
  /** Per split, the newest dedupe time it passed, undefined before its first (absent in checkpoints taken before it existed). */
  readonly splitNewest?: Array<number | undefined>;
}

/**
 * Dedupe forgets an id once the dedupe clock is two horizons past the time it was remembered with. With one split
 * the clock is the newest passed event time. With several (a folder of files, Kinesis shards) it is, as a watermark,
 * the running maximum of the minimum over the splits that hold it back of each one's newest passed time: a split
 * holds it back (at -Infinity before its first record) until it ends, and not while idle. A global newest let a file of later
 * days make a file of earlier days forget its own ids while it was still being read, and its duplicates passed.
 */
export class OrderedStage {
  /** Dedupe: id -> event time of its first passed occurrence, kept as a journal of segments. */
  private readonly journal = new DedupeJournal();
  private dedupeClock = Number.NEGATIVE_INFINITY;
  private readonly splitNewest: number[] = [];
  /** Splits of the run so far (`trackSplits`), including those that have not passed a record yet. */
  private splitCount = 0;
  private readonly splitEnded: boolean[] = [];
  private readonly splitIdle: boolean[] = [];
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

  /** The run has `count` splits (more when a source reshards). */
  trackSplits(count: number): void {
    this.splitCount = Math.max(this.splitCount, count);
  }

  /** The split ended: it no longer holds the dedupe clock back. */
  endSplit(split: number): void {
    this.splitEnded[split] = true;
    this.advanceClock(this.holdingMinimum(-1));
  }

  /** An idle split does not hold the dedupe clock back while it is idle. */
  setIdle(split: number, idle: boolean): void {
    this.splitIdle[split] = idle;
    if (idle) this.advanceClock(this.holdingMinimum(-1));
  }

  /** Returns, per target batch, the stamps to send with it. */
  apply(split: number, result: DecodeResult): Float64Array[] {
    const count = result.orderedCount;
    // before[k]: the split's watermark before ordered record k; before[count]: after the chunk.
    const before = new Float64Array(count + 1);
    const duplicate = new Uint8Array(count);
    let watermark = this.splitWatermark(split);
    const { dedupeKeys, dedupeHashes, dedupeTimes, eventTimes } = result;
    // Only this split's newest time changes while its chunk is applied.
    const othersMinimum = dedupeKeys ? this.holdingMinimum(split) : Number.POSITIVE_INFINITY;
    for (let k = 0; k < count; k++) {
      before[k] = watermark;
      if (dedupeKeys) {
        const keyStart = k === 0 ? 0 : dedupeKeys.ends[k - 1]!;
        if (this.isDuplicate(split, othersMinimum, dedupeKeys.chars, keyStart, dedupeKeys.ends[k]!, dedupeHashes![k]!, dedupeTimes![k]!)) {
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
  private isDuplicate(split: number, othersMinimum: number, chars: Uint16Array, start: number, end: number, hash: number, time: number): boolean {
    const horizon = this.dedupe!.withinMs;
    let first = this.journal.firstTime(chars, start, end, hash);
    // Forgotten once the dedupe clock is two horizons past it, whether or not its segment has been dropped
    // yet: segments end at checkpoints and at a size, and the outcome must not depend on where.
    if (first !== undefined && first < this.dedupeClock - 2 * horizon) first = undefined;
    if (first !== undefined && time - first <= horizon) return true;
    if (first === undefined || time > first) this.journal.add(chars, start, end, hash, time);
    const newest = this.splitNewest[split];
    if (newest === undefined || time > newest) {
      this.splitNewest[split] = time;
      this.advanceClock(Math.min(othersMinimum, time));
    }
    return false;
  }

  /**
   * The minimum newest time over the splits holding the dedupe clock back, `except` one (+Infinity when none
   * does). With `except` = -1 and no split holding it back, the newest time of any split (as an all-idle gate).
   */
  private holdingMinimum(except: number): number {
    let minimum = Number.POSITIVE_INFINITY;
    let maximum = Number.NEGATIVE_INFINITY;
    let holding = 0;
    const count = Math.max(this.splitCount, this.splitNewest.length);
    for (let split = 0; split < count; split++) {
      const newest = this.splitNewest[split] ?? Number.NEGATIVE_INFINITY;
      if (newest > maximum) maximum = newest;
      if (split === except || this.splitEnded[split] || this.splitIdle[split]) continue;
      holding++;
      if (newest < minimum) minimum = newest;
    }
    return except === -1 && holding === 0 ? maximum : minimum;
  }

  private advanceClock(time: number): void {
    if (time > this.dedupeClock) this.dedupeClock = time;
  }

  /**
   * Ids first seen more than two horizons before the dedupe clock can only match records over one horizon late
   * (relative to the splits still being read), and `isDuplicate` ignores them already; dropping their segments
   * keeps the state bounded by event time, not by input length.
   */
  private evictExpired(): void {
    if (this.dedupe) this.journal.evictBefore(this.dedupeClock - 2 * this.dedupe.withinMs);
  }

  /** State for a checkpoint, plus the dedupe segments not stored by an earlier checkpoint. */
  snapshot(segmentKey: (index: number) => string): { state: OrderedStageState; files: Array<{ key: string; data: DedupeSegmentData }> } {
    const { keys, files } = this.journal.prepareCheckpoint(segmentKey);
    const state = { dedupeSegments: keys, maxSeenTime: this.dedupeClock, splitWatermarks: [...this.splitWatermarks], splitNewest: [...this.splitNewest] };
    return { state, files };
  }

  /** The checkpoint holding these segment keys completed. */
  confirmSnapshot(state: OrderedStageState): void {
    this.journal.confirm(state.dedupeSegments);
  }

  restore(state: OrderedStageState, segments: ReadonlyArray<{ key: string; data: DedupeSegmentData | (() => DedupeSegmentData) }>): void {
    this.journal.restore(segments);
    this.dedupeClock = state.maxSeenTime;
    state.splitWatermarks.forEach((watermark, split) => (this.splitWatermarks[split] = watermark));
    // Older checkpoints kept one newest time for all splits: the splits' watermarks are the closest record of theirs,
    // but not an ended split's +Infinity (taken as its newest time, it moved the all-idle clock past every id).
    (state.splitNewest ?? state.splitWatermarks).forEach((newest, split) => {
      if (typeof newest === 'number' && Number.isFinite(newest)) this.splitNewest[split] = newest;
    });
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
