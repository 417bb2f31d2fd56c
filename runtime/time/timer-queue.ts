// Per-operator timers: (timestamp, key) pairs fired in timestamp order, at most one per pair, as Flink's.

import { MinHeap } from './min-heap.js';

export interface Timer {
  readonly timestamp: number;
  readonly key: string;
}

export class TimerQueue {
  private readonly heap = new MinHeap<Timer>((a, b) => a.timestamp - b.timestamp || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  private readonly registered = new Set<string>();

  private static id(timestamp: number, key: string): string {
    return `${timestamp}\u0000${key}`;
  }

  register(timestamp: number, key: string): void {
    const id = TimerQueue.id(timestamp, key);
    if (this.registered.has(id)) return;
    this.registered.add(id);
    this.heap.push({ timestamp, key });
  }

  /** Deleted timers stay in the heap and are skipped when they surface. */
  delete(timestamp: number, key: string): void {
    this.registered.delete(TimerQueue.id(timestamp, key));
  }

  /** The next timer due at or before `time`, removed from the queue. */
  pollDue(time: number): Timer | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.timestamp > time) return undefined;
      this.heap.pop();
      const id = TimerQueue.id(top.timestamp, top.key);
      if (this.registered.delete(id)) return top;
    }
  }

  get size(): number {
    return this.registered.size;
  }

  toArray(): Timer[] {
    // A timer deleted and registered again has a stale twin in the heap: list each live timer once.
    const listed = new Set<string>();
    return this.heap.toArray().filter((timer) => {
      const id = TimerQueue.id(timer.timestamp, timer.key);
      if (!this.registered.has(id) || listed.has(id)) return false;
      listed.add(id);
      return true;
    });
  }
}
