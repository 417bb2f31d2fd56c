// Hands out results strictly in sequence order, whatever order their work finishes in.

export class OrderedResults<T> {
  private readonly pending = new Map<number, Promise<T>>();
  private waiting: { seq: number; wake: () => void } | undefined;
  private nextSeq = 0;
  private issued = 0;

  /** Reserve the next sequence number. */
  reserve(): number {
    return this.issued++;
  }

  put(seq: number, result: Promise<T>): void {
    // Rejections are observed by `next`; mark them handled so an early failure is not reported twice.
    result.catch(() => undefined);
    this.pending.set(seq, result);
    if (this.waiting?.seq === seq) {
      const { wake } = this.waiting;
      this.waiting = undefined;
      wake();
    }
  }

  /** The next result in order; waits until it has been put and finished. */
  async next(): Promise<T> {
    const seq = this.nextSeq;
    if (!this.pending.has(seq)) await new Promise<void>((wake) => (this.waiting = { seq, wake }));
    const result = this.pending.get(seq)!;
    this.pending.delete(seq);
    this.nextSeq++;
    return result;
  }
}
