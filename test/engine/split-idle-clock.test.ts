import { describe, expect, it } from 'vitest';

import { SplitIdleClock } from '../../runtime/exec/split-idle-clock.js';

describe('SplitIdleClock', () => {
  it('counts time since the last records, except while the engine holds the split up', () => {
    const clock = new SplitIdleClock(2, 1_000);
    expect(clock.quietMs(0, 1_400)).toBe(400);
    clock.hold(0, 1_400); // waits for a place among the chunks in flight
    expect(clock.quietMs(0, 9_000)).toBe(400);
    clock.hold(0, 2_000); // and a chunk of it waits to be applied: holds nest
    clock.release(0, 9_000);
    expect(clock.quietMs(0, 9_500)).toBe(400);
    clock.release(0, 10_000);
    expect(clock.quietMs(0, 10_250)).toBe(650);
    // The other split was never held: its clock ran all along.
    expect(clock.quietMs(1, 10_250)).toBe(9_250);
  });

  it('restarts at records, also records read while held', () => {
    const clock = new SplitIdleClock(1, 0);
    clock.hold(0, 100);
    clock.records(0, 300);
    clock.release(0, 800);
    expect(clock.quietMs(0, 800)).toBe(0);
    expect(clock.quietMs(0, 1_000)).toBe(200);
  });

  it('starts the clock of a split added later at its addition', () => {
    const clock = new SplitIdleClock(0, 0);
    clock.add(5_000);
    expect(clock.quietMs(0, 5_300)).toBe(300);
  });
});
