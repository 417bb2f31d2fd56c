// What the coordinator tracks per source split: how far it has been applied, whether it has ended, and whether
// it has gone idle (no data for the watermark strategy's idle time), so that it no longer holds watermarks back.

import type { SplitDescriptor, SplitPosition } from '../api/source.js';
import type { SplitCheckpoint } from '../checkpoint/metadata.js';
import { SplitIdleClock } from './split-idle-clock.js';

export interface RestoredSplits {
  readonly startPositions: ReadonlyArray<SplitPosition | undefined>;
  readonly alreadyEnded: readonly boolean[];
}

export class SourceSplits {
  readonly descriptors: SplitDescriptor[];
  /** Per split: the position after the last chunk applied (what a checkpoint resumes from). */
  readonly positions: Array<SplitPosition | undefined>;
  readonly ended: boolean[];
  readonly idle: boolean[];
  /** Time without records per split, stopped while the engine holds the split up (decisions §26a). */
  private readonly idleClock: SplitIdleClock;
  /** Splits whose end has not been applied yet; a split restored as ended still sends its end once. */
  open: number;

  constructor(descriptors: readonly SplitDescriptor[], restored?: RestoredSplits) {
    this.descriptors = [...descriptors];
    this.positions = descriptors.map((_, i) => restored?.startPositions[i]);
    this.ended = descriptors.map((_, i) => restored?.alreadyEnded[i] ?? false);
    this.idle = descriptors.map(() => false);
    this.idleClock = new SplitIdleClock(descriptors.length, Date.now());
    this.open = descriptors.length;
  }

  get count(): number {
    return this.descriptors.length;
  }

  /** A split found while running (resharding); returns its index. */
  add(split: SplitDescriptor): number {
    this.descriptors.push(split);
    this.positions.push(undefined);
    this.ended.push(false);
    this.idle.push(false);
    this.idleClock.add(Date.now());
    this.open++;
    return this.descriptors.length - 1;
  }

  knows(splitId: string): boolean {
    return this.descriptors.some((known) => known.splitId === splitId);
  }

  /** The split's reader read a chunk with records. */
  recordsRead(split: number): void {
    this.idleClock.records(split, Date.now());
  }

  /** The engine holds the split up (no place among the chunks in flight, a chunk not yet applied): its idle clock stops. */
  hold(split: number): void {
    this.idleClock.hold(split, Date.now());
  }

  release(split: number): void {
    this.idleClock.release(split, Date.now());
  }

  end(split: number): void {
    this.open--;
    this.ended[split] = true;
  }

  /** An idle split that delivered records is active again; true if it was idle. */
  wake(split: number): boolean {
    if (!this.idle[split]) return false;
    this.idle[split] = false;
    return true;
  }

  /** Marks idle every open split without records for longer than `idleMs`; returns those newly idle. */
  markIdle(now: number, idleMs: number): number[] {
    const newlyIdle: number[] = [];
    for (let split = 0; split < this.count; split++) {
      if (!this.idle[split] && !this.ended[split] && this.idleClock.quietMs(split, now) > idleMs) {
        this.idle[split] = true;
        newlyIdle.push(split);
      }
    }
    return newlyIdle;
  }

  checkpoints(): SplitCheckpoint[] {
    return this.descriptors.map((split, i) => ({ splitId: split.splitId, origin: split.origin, position: this.positions[i], ended: this.ended[i]! }));
  }
}
