// Local pre-aggregation in the decode stage (Flink's local-global aggregation): records of one chunk bound for
// the same subtask, key and window are folded into one accumulator as they are parsed, and a partial travels
// instead of them, placed in the batch before the first record that could make its window late.
//
// Exactness. A record of split s is processed at a watermark no higher than the coordinator's ceiling before
// the chunk or the newest event time earlier in the chunk, whichever is higher. So:
// - a record whose earliest window fires at or below the chunk's newest event time so far stays a record
//   (the window operator decides lateness as usual);
// - an open partial is sent before the first record whose event time reaches the watermark at which its window
//   fires, so nothing in the chunk before it can have fired it;
// - the chunk reports the lowest "fires at" of its partials, and the coordinator sends the batches only if its
//   ceiling (WatermarkCeiling) is below it, else it has the chunk decoded again record by record.

import type { PreAggregatedExit } from '../plan/physical-plan.js';

/** What travels on a partial exit: one key's accumulator for one window. */
export type PartialAggregate = readonly [key: string, start: number, end: number, accumulator: unknown];

/** Where a partial goes: appended to a subtask's batch with the place of its last record. */
export type EmitPartial = (target: number, partialExit: number, partial: PartialAggregate, orderedIndex: number, eventTime: number) => void;

interface Group {
  /** Index into the pre-aggregated exits (and `open`). */
  readonly which: number;
  readonly exit: PreAggregatedExit;
  readonly target: number;
  readonly key: string;
  readonly start: number;
  readonly end: number;
  accumulator: unknown;
  lastIndex: number;
  lastTime: number;
}

export class ChunkPreAggregator {
  /** Per pre-aggregated exit: open groups by key (one per window). */
  private readonly open: Array<Map<string, Group[]>>;
  /** Open groups by the watermark at which their window fires; `nextFire` is the lowest key. */
  private readonly byFire = new Map<number, Group[]>();
  private nextFire = Number.POSITIVE_INFINITY;
  /** The lowest "fires at" of every partial of this chunk. */
  lowestFire = Number.POSITIVE_INFINITY;

  constructor(
    private readonly exits: readonly PreAggregatedExit[],
    private readonly emit: EmitPartial,
  ) {
    this.open = exits.map(() => new Map());
  }

  /** A new chunk: nothing open (the previous chunk flushed everything). */
  reset(): void {
    this.lowestFire = Number.POSITIVE_INFINITY;
  }

  /**
   * An ordered record with this event time comes next: first send every partial whose window that time could
   * fire. Cheap when nothing is due, as it runs for every record.
   */
  beforeRecord(time: number): void {
    if (time >= this.nextFire) this.flush(time);
  }

  /**
   * Fold a record into its groups; false when it must travel as itself because a record before it in the chunk
   * (newest so far: `chunkMax`) may already have fired its earliest window.
   */
  fold(which: number, target: number, key: string, value: unknown, time: number, orderedIndex: number, chunkMax: number): boolean {
    const exit = this.exits[which]!;
    const windows = exit.assigner.assign(time);
    if (windows.length === 0 || windows[0]!.end + exit.delayMs <= chunkMax) return false;
    let groups = this.open[which]!.get(key);
    if (!groups) this.open[which]!.set(key, (groups = []));
    for (let w = 0; w < windows.length; w++) {
      const window = windows[w]!;
      let group: Group | undefined;
      for (let g = 0; g < groups.length; g++) if (groups[g]!.start === window.start) group = groups[g];
      if (!group) {
        group = { which, exit, target, key, start: window.start, end: window.end, accumulator: exit.aggregate.createAccumulator(), lastIndex: 0, lastTime: 0 };
        groups.push(group);
        this.schedule(group, window.end + exit.delayMs);
      }
      group.accumulator = exit.aggregate.add(value, group.accumulator);
      group.lastIndex = orderedIndex;
      group.lastTime = time;
    }
    return true;
  }

  /** End of the chunk: send every open partial, earliest firing first. */
  flushAll(): void {
    this.flush(Number.POSITIVE_INFINITY);
  }

  private schedule(group: Group, firesAt: number): void {
    let due = this.byFire.get(firesAt);
    if (!due) {
      this.byFire.set(firesAt, (due = []));
      if (firesAt < this.nextFire) this.nextFire = firesAt;
    }
    due.push(group);
  }

  private flush(upTo: number): void {
    const fires = [...this.byFire.keys()].filter((firesAt) => firesAt <= upTo).sort((a, b) => a - b);
    for (const firesAt of fires) {
      if (firesAt < this.lowestFire) this.lowestFire = firesAt;
      for (const group of this.byFire.get(firesAt)!) {
        this.emit(group.target, group.exit.partialExit, [group.key, group.start, group.end, group.accumulator], group.lastIndex, group.lastTime);
        const byKey = this.open[group.which]!;
        const groups = byKey.get(group.key)!;
        groups.splice(groups.indexOf(group), 1);
        if (groups.length === 0) byKey.delete(group.key);
      }
      this.byFire.delete(firesAt);
    }
    this.nextFire = Number.POSITIVE_INFINITY;
    for (const firesAt of this.byFire.keys()) if (firesAt < this.nextFire) this.nextFire = firesAt;
  }
}
