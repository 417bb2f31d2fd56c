// Local pre-aggregation in the decode stage (Flink's local-global aggregation): records of one chunk bound for
// the same subtask, key and window are folded into one accumulator, so a partial travels instead of them.
//
// Exactness: a partial is merged after the rest of its batch, so every record in it must still be on time
// when the batch ends. A record whose earliest window could already be complete at the chunk's own newest
// event time stays a record (the window operator then decides lateness as usual); for the rest, the chunk's
// smallest "fires at" watermark is returned, and the coordinator checks it against the highest watermark any
// subtask can have reached (WatermarkCeiling) before it sends the batch, decoding the chunk again without
// pre-aggregation when it is not below.

import type { PreAggregatedExit } from '../plan/physical-plan.js';

/** The records routed to one subtask, in routing order. */
export interface RoutedRecords {
  readonly records: unknown[];
  /** Bit e set: the record takes exit e. */
  readonly masks: number[];
  readonly orderedIndex: number[];
  readonly eventTimes: number[];
  /** Per record: the index into plan.preAggregated of the pre-aggregated exit it takes, or -1. */
  readonly preAggregate: number[];
  /** Per record taking a pre-aggregated exit: its key. */
  readonly keys: Array<string | undefined>;
}

/** What travels on a partial exit: one key's accumulator for one window. */
export type PartialAggregate = readonly [key: string, start: number, end: number, accumulator: unknown];

interface Group {
  readonly start: number;
  readonly end: number;
  accumulator: unknown;
  lastIndex: number;
  lastTime: number;
}

export function emptyRoutedRecords(): RoutedRecords {
  return { records: [], masks: [], orderedIndex: [], eventTimes: [], preAggregate: [], keys: [] };
}

/**
 * Folds what can be folded; returns the records still sent one by one followed by the partials (each at the
 * place of its last record in the ordered stream), and the lowest watermark at which one of them is late.
 */
export function preAggregate(
  routed: RoutedRecords,
  exits: readonly PreAggregatedExit[],
  chunkMaxTime: number,
): { routed: RoutedRecords; firesAt: number } {
  const groupsByExit = exits.map(() => new Map<string, Group[]>());
  let firesAt = Number.POSITIVE_INFINITY;
  let folded = 0;
  const { records, masks, orderedIndex, eventTimes, preAggregate: exitOf, keys } = routed;
  for (let i = 0; i < records.length; i++) {
    const which = exitOf[i]!;
    if (which < 0) continue;
    const exit = exits[which]!;
    const time = eventTimes[i]!;
    const windows = exit.assigner.assign(time);
    if (windows.length === 0) continue;
    // Windows come in ascending order: the first one completes first.
    const earliestFire = windows[0]!.end + exit.delayMs;
    if (earliestFire <= chunkMaxTime) continue;
    if (earliestFire < firesAt) firesAt = earliestFire;
    const key = keys[i]!;
    let groups = groupsByExit[which]!.get(key);
    if (!groups) groupsByExit[which]!.set(key, (groups = []));
    for (const window of windows) {
      let group: Group | undefined;
      for (let g = 0; g < groups.length; g++) if (groups[g]!.start === window.start) group = groups[g];
      if (!group) {
        group = { start: window.start, end: window.end, accumulator: exit.aggregate.createAccumulator(), lastIndex: 0, lastTime: 0 };
        groups.push(group);
      }
      group.accumulator = exit.aggregate.add(records[i], group.accumulator);
      group.lastIndex = orderedIndex[i]!;
      group.lastTime = time;
    }
    masks[i] = masks[i]! & ~(1 << exit.exit);
    folded++;
  }
  if (folded === 0) return { routed, firesAt };

  const result = emptyRoutedRecords();
  for (let i = 0; i < records.length; i++) {
    if (masks[i] === 0) continue;
    result.records.push(records[i]);
    result.masks.push(masks[i]!);
    result.orderedIndex.push(orderedIndex[i]!);
    result.eventTimes.push(eventTimes[i]!);
  }
  exits.forEach((exit, which) => {
    for (const [key, groups] of groupsByExit[which]!) {
      for (const group of groups) {
        const partial: PartialAggregate = [key, group.start, group.end, group.accumulator];
        result.records.push(partial);
        result.masks.push(1 << exit.partialExit);
        result.orderedIndex.push(group.lastIndex);
        result.eventTimes.push(group.lastTime);
      }
    }
  });
  return { routed: result, firesAt };
}
