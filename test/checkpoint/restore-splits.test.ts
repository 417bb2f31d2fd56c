// A restore lays the ordered stage's per-split state out for the run's current splits, matched by split id: the
// checkpoint's split i may be another split now (a file added to the folder, a Kinesis parent past retention).
import { describe, expect, it } from 'vitest';

import { orderedStateForSplits } from '../../runtime/checkpoint/restore.js';
import { OrderedStage, type OrderedStageState } from '../../runtime/exec/ordered-stage.js';
import { CounterRegistry } from '../../runtime/exec/metrics.js';

const split = (splitId: string) => ({ splitId });

/** Checkpointed while reading shards a (newest 100), b (closed, newest 5000) and c (newest 200). */
const CHECKPOINTED: OrderedStageState = {
  dedupeSegments: [],
  maxSeenTime: 100,
  splitWatermarks: [100, 5000, 200],
  splitNewest: [100, 5000, 200],
};
const CHECKPOINT_SPLITS = ['a', 'b', 'c'].map(split);

describe('orderedStateForSplits', () => {
  it("gives each current split its own watermark and newest time when a split of the checkpoint is gone", () => {
    const state = orderedStateForSplits(CHECKPOINTED, CHECKPOINT_SPLITS, [split('a'), split('c')], [false, false]);
    expect(state.splitWatermarks).toEqual([100, 200]);
    expect(state.splitNewest).toEqual([100, 200]);
  });

  it('starts a split the checkpoint did not know with no record, and an ended split at +Infinity', () => {
    const state = orderedStateForSplits(CHECKPOINTED, CHECKPOINT_SPLITS, [split('new'), split('c'), split('a')], [false, false, true]);
    expect(state.splitWatermarks).toEqual([Number.NEGATIVE_INFINITY, 200, Number.POSITIVE_INFINITY]);
    expect(state.splitNewest).toEqual([undefined, 200, 100]);
  });

  it('keeps a checkpoint without newest times (taken before they existed) without them', () => {
    const { splitNewest: _, ...older } = CHECKPOINTED;
    expect(orderedStateForSplits(older, CHECKPOINT_SPLITS, [split('c')], [false]).splitNewest).toBeUndefined();
  });

  it("holds the restored dedupe clock back by a new split, not by the newest time of the split it took the place of", () => {
    // Shard b (passed 5000) is gone; shard c is new and has passed nothing, so it holds the clock at a's 100 once a ends.
    const stage = new OrderedStage({ key: () => '', timestamp: () => 0, withinMs: 1000 } as never, new CounterRegistry());
    const checkpointed = { ...CHECKPOINTED, splitWatermarks: [100, 5000], splitNewest: [100, 5000] };
    stage.restore(orderedStateForSplits(checkpointed, [split('a'), split('b')], [split('a'), split('c')], [false, false]), []);
    stage.trackSplits(2);
    stage.endSplit(0);
    expect(stage.snapshot(() => 'unused').state.maxSeenTime).toBe(100);
  });
});
