// How long each split has gone without records, for `idleTimeout` (SPEC §3: idle splits do not hold the
// watermark back). The clock of a split stops while the engine holds it up: while it waits for a place among
// the chunks in flight (backpressure, or more splits than places, as in a folder of many files) and while a chunk
// it read waits to be applied. Counting that time marked files with unread or unapplied records idle, and their
// records came late behind the files applied first. Flink's per-split idleness pauses the same way under
// backpressure (FLIP-471); a live source's empty polls still count as time without records.

export class SplitIdleClock {
  /** Per split: when it last had records, shifted later by the time it was then held up. */
  private readonly lastRecords: number[] = [];
  /** Per split: how many holds are open (a wait for a place, chunks not yet applied). */
  private readonly holds: number[] = [];
  /** Per split: since when it has been held up, while it is. */
  private readonly heldSince: number[] = [];

  constructor(splits: number, now: number) {
    for (let split = 0; split < splits; split++) this.add(now);
  }

  /** A split joins (resharding); its clock starts now. */
  add(now: number): void {
    this.lastRecords.push(now);
    this.holds.push(0);
    this.heldSince.push(now);
  }

  /** The split read a chunk with records. */
  records(split: number, now: number): void {
    this.lastRecords[split] = now;
    if (this.holds[split]! > 0) this.heldSince[split] = now;
  }

  /** The engine holds the split up: its clock stops until every hold is released. */
  hold(split: number, now: number): void {
    if (this.holds[split]!++ === 0) this.heldSince[split] = now;
  }

  release(split: number, now: number): void {
    if (--this.holds[split]! === 0) this.lastRecords[split]! += now - this.heldSince[split]!;
  }

  /** Time without records that counts towards idleness. */
  quietMs(split: number, now: number): number {
    const until = this.holds[split]! > 0 ? this.heldSince[split]! : now;
    return until - this.lastRecords[split]!;
  }
}
