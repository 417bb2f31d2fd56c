// The coordinator's ordered stage: keep-first dedupe in source order, and the watermark stamp of every record.
import { describe, expect, it } from 'vitest';

import { CounterRegistry } from '../../runtime/exec/metrics.js';
import { OrderedStage } from '../../runtime/exec/ordered-stage.js';
import type { DecodeResult, TargetBatch } from '../../runtime/exec/decode-result.js';
import type { DedupeSpec } from '../../runtime/graph/logical-graph.js';
import { dedupeHash } from '../../runtime/exec/dedupe-index.js';
import { StringColumn } from '../../runtime/exec/typed-column.js';

const NEG = Number.NEGATIVE_INFINITY;

function dedupe(withinMs: number): DedupeSpec {
  return { key: () => '', timestamp: () => 0, withinMs, passedCounter: 'passed', duplicateCounter: 'duplicate' };
}

/** A decoded chunk whose ordered records all went to subtask 0, optionally with unordered records mixed in. */
function chunk(options: { ids?: string[]; times?: number[]; eventTimes?: number[]; orderedIndex?: number[] }): DecodeResult {
  const count = (options.ids ?? options.eventTimes ?? []).length;
  const orderedIndex = options.orderedIndex ?? Array.from({ length: count }, (_, k) => k);
  const target: TargetBatch = {
    subtask: 0,
    count: orderedIndex.length,
    records: new Uint8Array(0),
    exitMasks: new Uint32Array(orderedIndex.length),
    orderedIndex: Int32Array.from(orderedIndex),
    eventTimes: new Float64Array(orderedIndex.length),
  };
  return {
    chunkSeq: 0,
    recordsIn: count,
    counters: {},
    orderedCount: count,
    ...(options.ids ? { dedupeKeys: StringColumn.of(options.ids), dedupeHashes: Uint32Array.from(options.ids, dedupeHash), dedupeTimes: Float64Array.from(options.times!) } : {}),
    ...(options.eventTimes ? { eventTimes: Float64Array.from(options.eventTimes) } : {}),
    targets: [target],
  };
}

describe('ordered stage', () => {
  it('stamps each record with its split watermark before it: the max event time delivered so far', () => {
    const stage = new OrderedStage(undefined, new CounterRegistry());
    const [stamps] = stage.apply(0, chunk({ eventTimes: [5, 3, 9, 7] }));
    expect([...stamps!]).toEqual([NEG, 5, 5, 9]);
    expect(stage.splitWatermark(0)).toBe(9);
    const [next] = stage.apply(0, chunk({ eventTimes: [1] }));
    expect([...next!]).toEqual([9]);
  });

  it('keeps a separate watermark per split', () => {
    const stage = new OrderedStage(undefined, new CounterRegistry());
    stage.apply(0, chunk({ eventTimes: [100] }));
    const [stamps] = stage.apply(1, chunk({ eventTimes: [10, 20] }));
    expect([...stamps!]).toEqual([NEG, 10]);
    expect(stage.splitWatermark(0)).toBe(100);
    expect(stage.splitWatermark(1)).toBe(20);
    expect(stage.splitWatermark(7)).toBe(NEG);
  });

  it('gives a record outside the ordered stream the watermark after the ordered records before it', () => {
    const stage = new OrderedStage(undefined, new CounterRegistry());
    // Ordered records 0 and 1; an unordered record after record 0 (-(1) - 1 = -2) and one before any (-1).
    const [stamps] = stage.apply(0, chunk({ eventTimes: [50, 60], orderedIndex: [-1, 0, -2, 1] }));
    expect([...stamps!]).toEqual([NEG, NEG, 50, 50]);
  });

  it('keeps the first occurrence of an id in source order and marks later ones within the horizon with NaN', () => {
    const metrics = new CounterRegistry();
    const stage = new OrderedStage(dedupe(10), metrics);
    const [stamps] = stage.apply(0, chunk({ ids: ['a', 'b', 'a', 'a', 'b'], times: [100, 101, 95, 110, 112], eventTimes: [100, 101, 95, 110, 112] }));
    // a@95 is earlier than the kept a@100 but comes later in the split: a duplicate. a@110 is 10 after: still one.
    // b@112 is 11 after b@101: beyond the horizon, so it passes.
    expect([...stamps!]).toEqual([NEG, 100, Number.NaN, Number.NaN, 101]);
    expect(metrics.values()).toEqual({ passed: 3, duplicate: 2 });
  });

  it('never lets a duplicate advance the watermark', () => {
    const stage = new OrderedStage(dedupe(1_000), new CounterRegistry());
    const [stamps] = stage.apply(0, chunk({ ids: ['a', 'a', 'b'], times: [10, 500, 20], eventTimes: [10, 500, 20] }));
    expect([...stamps!]).toEqual([NEG, Number.NaN, 10]);
    expect(stage.splitWatermark(0)).toBe(20);
  });

  it('detects duplicates across chunks and across splits', () => {
    const stage = new OrderedStage(dedupe(60_000), new CounterRegistry());
    stage.apply(0, chunk({ ids: ['x'], times: [1_000], eventTimes: [1_000] }));
    const [sameSplit] = stage.apply(0, chunk({ ids: ['x'], times: [2_000], eventTimes: [2_000] }));
    const [otherSplit] = stage.apply(1, chunk({ ids: ['x', 'y'], times: [3_000, 3_000], eventTimes: [3_000, 3_000] }));
    expect([...sameSplit!]).toEqual([Number.NaN]);
    expect([...otherSplit!]).toEqual([Number.NaN, NEG]);
  });

  it('restores its dedupe memory and split watermarks from a snapshot', () => {
    const stage = new OrderedStage(dedupe(100), new CounterRegistry());
    stage.apply(0, chunk({ ids: ['a'], times: [50], eventTimes: [50] }));
    const { state, files } = stage.snapshot((index) => `segment-${index}`);
    const restored = new OrderedStage(dedupe(100), new CounterRegistry());
    restored.restore(structuredClone(state), structuredClone(files));
    expect(restored.splitWatermark(0)).toBe(50);
    const [stamps] = restored.apply(0, chunk({ ids: ['a', 'b'], times: [60, 70], eventTimes: [60, 70] }));
    expect([...stamps!]).toEqual([Number.NaN, 50]);
  });

  it('stores and restores ids across a segment closed by size and one closed by a snapshot', () => {
    // Segments close at 65,536 ids: 70,000 fill one and start the next, which the snapshot closes.
    const count = 70_000;
    const ids = Array.from({ length: count }, (_, i) => `id-${i}`);
    const times = ids.map((_, i) => i);
    const stage = new OrderedStage(dedupe(1_000_000), new CounterRegistry());
    stage.apply(0, chunk({ ids, times, eventTimes: times }));
    const { state, files } = stage.snapshot((index) => `segment-${index}`);
    expect(files.map((file) => file.data.times.length)).toEqual([65_536, count - 65_536]);
    expect(files.flatMap((file) => file.data.ids.split('\n'))).toEqual(ids);
    expect([...files[1]!.data.times.slice(0, 2)]).toEqual([65_536, 65_537]);

    const restored = new OrderedStage(dedupe(1_000_000), new CounterRegistry());
    restored.restore(structuredClone(state), structuredClone(files));
    const probe = ['id-0', 'id-65535', 'id-65536', `id-${count - 1}`, 'fresh'];
    const [stamps] = restored.apply(0, chunk({ ids: probe, times: probe.map(() => count), eventTimes: probe.map(() => count) }));
    expect([...stamps!].map(Number.isNaN)).toEqual([true, true, true, true, false]);
    // A second snapshot stores only the segment added since (the restored ones keep their keys).
    const second = restored.snapshot((index) => `later-${index}`);
    expect(second.state.dedupeSegments).toEqual(['segment-0', 'segment-1', 'later-0']);
    expect(second.files.map((file) => file.data.ids)).toEqual(['fresh']);
  });

  it('forgets ids once their whole segment is more than two horizons behind the newest event time', () => {
    const stage = new OrderedStage(dedupe(10), new CounterRegistry());
    stage.apply(0, chunk({ ids: ['a', 'b'], times: [0, 1], eventTimes: [0, 1] }));
    expect(storedIds(stage)).toEqual(['a', 'b']); // a snapshot closes the segment
    stage.apply(0, chunk({ ids: ['c'], times: [100], eventTimes: [100] }));
    expect(storedIds(stage)).toEqual(['c']);
  });

  it('keeps an id that passed again when the segment of its first passing is dropped', () => {
    const stage = new OrderedStage(dedupe(10), new CounterRegistry());
    stage.apply(0, chunk({ ids: ['a', 'b'], times: [0, 1], eventTimes: [0, 1] }));
    storedIds(stage);
    stage.apply(0, chunk({ ids: ['a'], times: [60], eventTimes: [60] })); // 60 after: passes again
    expect(storedIds(stage)).toEqual(['a']);
    const [stamps] = stage.apply(0, chunk({ ids: ['a'], times: [65], eventTimes: [65] }));
    expect([...stamps!]).toEqual([Number.NaN]);
  });

  it('forgets an id two horizons behind the newest event time whether or not its segment was dropped yet', () => {
    // Horizon 10: 'a' at 0 is forgotten once the newest event time is past 20. Its copy at 5 is within one
    // horizon of it, yet passes, and must do so wherever segments end (snapshots close them).
    const copyOutcome = (snapshotBetween: boolean, oneChunk: boolean, newest: number): boolean => {
      const stage = new OrderedStage(dedupe(10), new CounterRegistry());
      stage.apply(0, chunk({ ids: ['a'], times: [0], eventTimes: [0] }));
      if (snapshotBetween) storedIds(stage);
      if (!oneChunk) stage.apply(0, chunk({ ids: ['z'], times: [newest], eventTimes: [newest] }));
      const [stamps] = stage.apply(0, oneChunk ? chunk({ ids: ['z', 'a'], times: [newest, 5], eventTimes: [newest, 5] }) : chunk({ ids: ['a'], times: [5], eventTimes: [5] }));
      return Number.isNaN(stamps!.at(-1)!);
    };
    for (const snapshotBetween of [false, true]) {
      for (const oneChunk of [false, true]) {
        expect(copyOutcome(snapshotBetween, oneChunk, 21), `snapshot ${snapshotBetween}, one chunk ${oneChunk}`).toBe(false);
        // Exactly two horizons behind: still remembered, so the copy is a duplicate.
        expect(copyOutcome(snapshotBetween, oneChunk, 20), `snapshot ${snapshotBetween}, one chunk ${oneChunk}`).toBe(true);
      }
    }
  });

  it('forgets ids by the slowest split still being read, not by the newest time of any split', () => {
    // A folder of daily files read at once: the file of a later day must not make an earlier one, even one not
    // started yet, forget its own ids while it is being read.
    const copyOfAPasses = (settle: (stage: OrderedStage) => void): boolean => {
      const stage = new OrderedStage(dedupe(10), new CounterRegistry());
      stage.trackSplits(2);
      stage.apply(1, chunk({ ids: ['later'], times: [1_000], eventTimes: [1_000] }));
      stage.apply(0, chunk({ ids: ['a'], times: [100], eventTimes: [100] }));
      settle(stage);
      // A copy of 'a' 5 later, on either split: within the horizon, so a duplicate while 'a' is remembered.
      const [stamps] = stage.apply(1, chunk({ ids: ['a'], times: [105], eventTimes: [105] }));
      return !Number.isNaN(stamps![0]!);
    };
    expect(copyOfAPasses(() => undefined)).toBe(false);
    // Once split 0 ends or goes idle, split 1 sets the clock: 'a' is two horizons behind it and forgotten.
    expect(copyOfAPasses((stage) => stage.endSplit(0))).toBe(true);
    expect(copyOfAPasses((stage) => stage.setIdle(0, true))).toBe(true);
  });

  it('keeps each split\'s newest time in its snapshot', () => {
    const stage = new OrderedStage(dedupe(10), new CounterRegistry());
    stage.trackSplits(2);
    stage.apply(1, chunk({ ids: ['later'], times: [1_000], eventTimes: [1_000] }));
    stage.apply(0, chunk({ ids: ['a'], times: [100], eventTimes: [100] }));
    const { state, files } = stage.snapshot((index) => `segment-${index}`);
    const restored = new OrderedStage(dedupe(10), new CounterRegistry());
    restored.trackSplits(2);
    restored.restore(structuredClone(state), structuredClone(files));
    const [stamps] = restored.apply(0, chunk({ ids: ['a'], times: [104], eventTimes: [104] }));
    expect([...stamps!]).toEqual([Number.NaN]);
  });

  it('does not take an ended split\'s +Infinity watermark for its newest time when restoring a checkpoint without newest times', () => {
    // Checkpoints from before per-split newest times hold only watermarks; a restore gives an ended split +Infinity.
    const stage = new OrderedStage(dedupe(10), new CounterRegistry());
    stage.trackSplits(2);
    stage.restore({ dedupeSegments: [], maxSeenTime: 100, splitWatermarks: [Number.POSITIVE_INFINITY, 100] }, []);
    stage.endSplit(0);
    // Split 1 goes idle: with no split holding the clock back it moves to the newest time any split passed, 100.
    stage.setIdle(1, true);
    expect(stage.snapshot(() => 'unused').state.maxSeenTime).toBe(100);
  });
});

/** The ids a snapshot stores, oldest segment first (snapshots are never confirmed here, so all are listed). */
function storedIds(stage: OrderedStage): string[] {
  return stage.snapshot((index) => `segment-${index}`).files.flatMap((file) => (file.data.ids ? file.data.ids.split('\n') : []));
}
