// Credit-based flow control per channel, as Flink's network stack: a sender may have at most `credits`
// batches in flight; the receiver returns one credit per processed batch.

export class CreditGate {
  private available: number;
  private readonly waiters: Array<() => void> = [];
  private closedWith: Error | undefined;

  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  get inFlight(): number {
    return this.capacity - this.available;
  }

  /** Resolves when a credit is available, taking it. */
  acquire(): Promise<void> | void {
    if (this.closedWith) throw this.closedWith;
    if (this.available > 0) {
      this.available--;
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push(() => (this.closedWith ? reject(this.closedWith) : resolve()));
    });
  }

  release(): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter();
    else if (this.available < this.capacity) this.available++;
    else throw new Error('credit returned that was never taken');
  }

  /** Wake every waiter with an error (the receiver is gone). */
  close(error: Error): void {
    this.closedWith = error;
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
