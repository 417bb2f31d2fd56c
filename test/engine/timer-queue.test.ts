// Timers fire in timestamp order, once per (timestamp, key), and deleted timers never fire.
import { describe, expect, it } from 'vitest';

import { TimerQueue, type Timer } from '../../runtime/time/timer-queue.js';

function drain(queue: TimerQueue, upTo: number): Timer[] {
  const fired: Timer[] = [];
  for (let timer = queue.pollDue(upTo); timer; timer = queue.pollDue(upTo)) fired.push(timer);
  return fired;
}

describe('timer queue', () => {
  it('fires due timers in timestamp order whatever order they were registered in', () => {
    const queue = new TimerQueue();
    const timestamps = [50, -20, 300, 0, 120, 7, 7.5, 299];
    timestamps.forEach((ts, i) => queue.register(ts, `k${i}`));
    expect(drain(queue, 200).map((t) => t.timestamp)).toEqual([-20, 0, 7, 7.5, 50, 120]);
    expect(drain(queue, 1000).map((t) => t.timestamp)).toEqual([299, 300]);
    expect(queue.size).toBe(0);
  });

  it('fires a timer due exactly at the watermark and keeps later ones', () => {
    const queue = new TimerQueue();
    queue.register(100, 'a');
    queue.register(101, 'a');
    expect(drain(queue, 100)).toEqual([{ timestamp: 100, key: 'a' }]);
    expect(queue.size).toBe(1);
  });

  it('orders timers with the same timestamp by key', () => {
    const queue = new TimerQueue();
    for (const key of ['c', 'a', 'b']) queue.register(10, key);
    expect(drain(queue, 10).map((t) => t.key)).toEqual(['a', 'b', 'c']);
  });

  it('keeps one timer per (timestamp, key) however often it is registered', () => {
    const queue = new TimerQueue();
    queue.register(10, 'a');
    queue.register(10, 'a');
    queue.register(10, 'b');
    queue.register(11, 'a');
    expect(queue.size).toBe(3);
    expect(drain(queue, 20)).toEqual([
      { timestamp: 10, key: 'a' },
      { timestamp: 10, key: 'b' },
      { timestamp: 11, key: 'a' },
    ]);
  });

  it('never fires a deleted timer, and deleting only touches its own key', () => {
    const queue = new TimerQueue();
    queue.register(10, 'a');
    queue.register(10, 'b');
    queue.register(20, 'a');
    queue.delete(10, 'a');
    queue.delete(99, 'a'); // never registered: no effect
    expect(queue.size).toBe(2);
    expect(queue.toArray()).toHaveLength(2);
    expect(drain(queue, 100)).toEqual([
      { timestamp: 10, key: 'b' },
      { timestamp: 20, key: 'a' },
    ]);
  });

  it('fires a timer registered again after deletion exactly once', () => {
    const queue = new TimerQueue();
    queue.register(10, 'a');
    queue.delete(10, 'a');
    queue.register(10, 'a');
    expect(queue.size).toBe(1);
    expect(drain(queue, 10)).toEqual([{ timestamp: 10, key: 'a' }]);
    expect(drain(queue, 10)).toEqual([]);
  });

  it('lists each pending timer once in a snapshot, even one deleted and registered again', () => {
    const queue = new TimerQueue();
    queue.register(10, 'a');
    queue.delete(10, 'a');
    queue.register(10, 'a');
    expect(queue.toArray()).toEqual([{ timestamp: 10, key: 'a' }]);
  });

  it('fires many random timers in non-decreasing order', () => {
    const queue = new TimerQueue();
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 10_000) - 5000;
    for (let i = 0; i < 3000; i++) queue.register(random(), `k${i % 17}`);
    const fired = drain(queue, Number.POSITIVE_INFINITY);
    const sorted = [...fired].sort((a, b) => a.timestamp - b.timestamp || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    expect(fired).toEqual(sorted);
    expect(new Set(fired.map((t) => `${t.timestamp}/${t.key}`)).size).toBe(fired.length);
  });
});
