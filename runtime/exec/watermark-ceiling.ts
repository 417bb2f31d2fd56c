// The highest watermark any subtask's input gate can have forwarded so far, tracked on the coordinator.
// A gate forwards the minimum over its active splits of what it has been sent, and the coordinator's own split
// watermarks are never below that; so the running maximum of the coordinator's minimum bounds every gate.
// Pre-aggregated partials of a chunk are only sent while this bound, taken before the chunk, stays below the
// watermark that would make one of them late (the decode stage accounts for the chunk's own event times).

export interface SplitWatermarks {
  count(): number;
  /** The coordinator's watermark of a split (+Infinity once it ended). */
  watermark(split: number): number;
  /** False while idle: an idle split does not hold a gate back. Ended splits are active (at +Infinity). */
  active(split: number): boolean;
}

export class WatermarkCeiling {
  constructor(
    private readonly splits: SplitWatermarks,
    private highest = Number.NEGATIVE_INFINITY,
  ) {}

  get value(): number {
    return this.highest;
  }

  /** Call after any split's watermark, idleness or end changed. */
  update(): void {
    this.highest = Math.max(this.highest, this.minimum());
  }

  private minimum(): number {
    let minimum = Number.POSITIVE_INFINITY;
    let maximum = Number.NEGATIVE_INFINITY;
    let active = 0;
    for (let split = 0; split < this.splits.count(); split++) {
      const watermark = this.splits.watermark(split);
      if (watermark > maximum) maximum = watermark;
      if (!this.splits.active(split)) continue;
      active++;
      if (watermark < minimum) minimum = watermark;
    }
    // A gate whose splits are all idle forwards the highest watermark they reached (watermark-gate.ts).
    return active === 0 ? maximum : minimum;
  }
}
