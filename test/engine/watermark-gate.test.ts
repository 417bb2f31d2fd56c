// The input gate: the minimum over splits, idle splits ignored, never moving backwards.
import { describe, expect, it } from 'vitest';

import { WatermarkGate } from '../../runtime/time/watermark-gate.js';

function gateWith(splits: number): WatermarkGate {
  const gate = new WatermarkGate();
  for (let split = 0; split < splits; split++) gate.addSplit(split);
  return gate;
}

describe('watermark gate', () => {
  it('forwards the minimum of the split watermarks once every split has delivered', () => {
    const gate = gateWith(2);
    expect(gate.advance(0, 100)).toBe(false);
    expect(gate.current).toBe(Number.NEGATIVE_INFINITY);
    expect(gate.advance(1, 50)).toBe(true);
    expect(gate.current).toBe(50);
    expect(gate.advance(1, 120)).toBe(true);
    expect(gate.current).toBe(100);
  });

  it('ignores an idle split so the others can make progress', () => {
    const gate = gateWith(3);
    gate.advance(0, 100);
    gate.advance(1, 200);
    expect(gate.current).toBe(Number.NEGATIVE_INFINITY); // split 2 has delivered nothing yet
    expect(gate.setIdle(2, true)).toBe(true);
    expect(gate.current).toBe(100);
  });

  it('lets a split that delivers again hold the watermark back, without moving it backwards', () => {
    const gate = gateWith(2);
    gate.advance(0, 1000);
    gate.setIdle(1, true);
    expect(gate.current).toBe(1000);
    expect(gate.advance(1, 400)).toBe(false); // reactivated below the forwarded watermark
    expect(gate.current).toBe(1000);
    expect(gate.advance(0, 2000)).toBe(false); // split 1 now holds it at 400 < 1000
    expect(gate.current).toBe(1000);
    expect(gate.advance(1, 1500)).toBe(true);
    expect(gate.current).toBe(1500);
  });

  it('reactivates an idle split by setIdle(false) as well', () => {
    const gate = gateWith(2);
    gate.advance(0, 10);
    gate.advance(1, 5);
    gate.setIdle(1, true);
    expect(gate.current).toBe(10);
    gate.setIdle(1, false);
    gate.advance(0, 30);
    expect(gate.current).toBe(10);
    gate.advance(1, 20);
    expect(gate.current).toBe(20);
  });

  it('holds the watermark where it is while every split is idle', () => {
    const gate = gateWith(2);
    gate.advance(0, 70);
    gate.advance(1, 90);
    expect(gate.current).toBe(70);
    gate.setIdle(0, true);
    expect(gate.current).toBe(90);
    expect(gate.setIdle(1, true)).toBe(false);
    expect(gate.current).toBe(90);
  });

  it('forwards the highest split watermark once every split is idle, whichever went idle first (as Flink)', () => {
    // A split with data and one that never had any go idle together; the one with data first.
    const gate = gateWith(2);
    gate.advance(0, 70);
    expect(gate.current).toBe(Number.NEGATIVE_INFINITY);
    expect(gate.setIdle(0, true)).toBe(false);
    expect(gate.setIdle(1, true)).toBe(true);
    expect(gate.current).toBe(70);
    // Data on the empty split makes it active again; it cannot pull the watermark back.
    expect(gate.advance(1, 10)).toBe(false);
    expect(gate.current).toBe(70);
  });

  it('never lowers a split watermark when an older stamp arrives', () => {
    const gate = gateWith(1);
    gate.advance(0, 500);
    expect(gate.advance(0, 100)).toBe(false);
    expect(gate.splitWatermark(0)).toBe(500);
    expect(gate.current).toBe(500);
  });

  it('is monotonic under any sequence of advances, idleness and ends', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const gate = gateWith(4);
    let previous = gate.current;
    for (let step = 0; step < 2000; step++) {
      const split = Math.floor(random() * 4);
      const roll = random();
      if (roll < 0.6) gate.advance(split, Math.floor(random() * 10_000) - 2000);
      else if (roll < 0.95) gate.setIdle(split, random() < 0.5);
      else gate.endSplit(split);
      if (gate.current < previous) throw new Error(`watermark went back from ${previous} to ${gate.current} at step ${step}`);
      previous = gate.current;
    }
    expect(previous).toBeGreaterThan(Number.NEGATIVE_INFINITY);
  });

  it('goes to +infinity once every split has ended', () => {
    const gate = gateWith(2);
    gate.advance(0, 10);
    gate.endSplit(0);
    expect(gate.current).toBe(Number.NEGATIVE_INFINITY);
    gate.endSplit(1);
    expect(gate.current).toBe(Number.POSITIVE_INFINITY);
  });
});
