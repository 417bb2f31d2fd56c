// Bounds how many chunks are being decoded or waiting to be applied at once.

export class Semaphore {
  private readonly waiters: Array<() => void> = [];
  constructor(private permits: number) {}

  async acquire(): Promise<void> {
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter();
    else this.permits++;
  }

  /** Let everyone through (shutdown). */
  drain(): void {
    this.permits = Number.POSITIVE_INFINITY;
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
