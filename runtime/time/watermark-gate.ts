// The input gate's watermark: the minimum over source splits, ignoring idle ones, never moving backwards.

export class WatermarkGate {
  private readonly splits: Array<{ watermark: number; idle: boolean }> = [];
  /** The forwarded watermark: monotonic. */
  current = Number.NEGATIVE_INFINITY;

  addSplit(split: number): void {
    while (this.splits.length <= split) this.splits.push({ watermark: Number.NEGATIVE_INFINITY, idle: false });
  }

  splitWatermark(split: number): number {
    return this.splits[split]?.watermark ?? Number.NEGATIVE_INFINITY;
  }

  /** Raise a split's watermark (and mark it active). Returns true when the forwarded watermark rose. */
  advance(split: number, watermark: number): boolean {
    this.addSplit(split);
    const state = this.splits[split]!;
    if (watermark > state.watermark) state.watermark = watermark;
    state.idle = false;
    return this.recompute();
  }

  /** An idle split stops holding the watermark back until it delivers again. */
  setIdle(split: number, idle: boolean): boolean {
    this.addSplit(split);
    this.splits[split]!.idle = idle;
    return this.recompute();
  }

  /** End of input: every split is finished. */
  endAll(): boolean {
    let rose = false;
    for (let split = 0; split < this.splits.length; split++) rose = this.endSplit(split) || rose;
    return rose;
  }

  endSplit(split: number): boolean {
    return this.advance(split, Number.POSITIVE_INFINITY);
  }

  private recompute(): boolean {
    let minimum = Number.POSITIVE_INFINITY;
    let maximum = Number.NEGATIVE_INFINITY;
    let active = 0;
    for (const split of this.splits) {
      if (split.watermark > maximum) maximum = split.watermark;
      if (split.idle) continue;
      active++;
      if (split.watermark < minimum) minimum = split.watermark;
    }
    // With every split idle none will advance until it delivers again, so what each has already reached is safe:
    // forward the highest (Flink's StatusWatermarkValve does the same). Holding the minimum instead kept a split
    // that went idle together with one that never had data stuck at the empty one's -Infinity.
    const forwarded = active === 0 ? maximum : minimum;
    if (forwarded <= this.current) return false;
    this.current = forwarded;
    return true;
  }
}
