// What both test harnesses share: a hand-driven processing-time clock, snapshots copied the way checkpoints
// copy them, and the key-group narrowing a restore applies to each new subtask.

import { deserialize, serialize } from 'node:v8';
import { CoattailError } from '../errors.js';
import { keyGroupRangeFor } from '../plan/key-groups.js';
import type { OperatorSnapshot } from '../exec/stream-operator.js';

/** One record a step emitted, with the event time it carries (null when it has none). */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestamp: number | null;
}

/** Where the tested step runs: which subtask of how many, over how many key groups. */
export interface SubtaskPlacement {
  /** Parallel subtasks of the job; default 1. */
  readonly parallelism?: number;
  /** This harness plays subtask `subtaskIndex` (default 0) of `parallelism`. */
  readonly subtaskIndex?: number;
  /** Key groups, fixed for the life of the state; default 128, as the CLI. */
  readonly maxParallelism?: number;
}

export interface ResolvedPlacement {
  readonly parallelism: number;
  readonly subtaskIndex: number;
  readonly maxParallelism: number;
}

export function resolvePlacement(placement: SubtaskPlacement): ResolvedPlacement {
  const parallelism = placement.parallelism ?? 1;
  const subtaskIndex = placement.subtaskIndex ?? 0;
  const maxParallelism = placement.maxParallelism ?? 128;
  const whole = (n: number) => Number.isInteger(n) && n >= 1;
  if (!whole(parallelism) || !whole(maxParallelism) || parallelism > maxParallelism) {
    throw new CoattailError('BAD_ARGUMENT', `harness: parallelism (${parallelism}) must be a whole number from 1 to maxParallelism (${maxParallelism})`);
  }
  if (!Number.isInteger(subtaskIndex) || subtaskIndex < 0 || subtaskIndex >= parallelism) {
    throw new CoattailError('BAD_ARGUMENT', `harness: subtaskIndex ${subtaskIndex} is not one of the ${parallelism} subtasks`);
  }
  return { parallelism, subtaskIndex, maxParallelism };
}

/**
 * Runs `work` with `Date.now()` returning `now`. Operators and user functions read processing time from
 * `Date.now()` (timerService.currentProcessingTime, alert timestamps), so this makes them deterministic.
 * Only the synchronous part of `work` sees the fake clock.
 */
export function withProcessingTime<T>(now: number, work: () => T): T {
  const realNow = Date.now;
  Date.now = () => now;
  try {
    return work();
  } finally {
    Date.now = realNow;
  }
}

/** A deep copy through V8's serializer, as state travels between threads and into checkpoint files. */
export function copyState<T>(value: T): T {
  try {
    return deserialize(serialize(value)) as T;
  } catch (error) {
    throw new CoattailError('CHECKPOINT_FAILED', `state cannot be snapshotted (it must be cloneable data): ${(error as Error).message}`);
  }
}

/** The part of stored snapshots a subtask restores: every key group in its range, from any old subtask. */
export function narrowSnapshots(snapshots: readonly OperatorSnapshot[], placement: ResolvedPlacement): OperatorSnapshot[] {
  const range = keyGroupRangeFor(placement.subtaskIndex, placement.parallelism, placement.maxParallelism);
  return snapshots.map((snapshot) => {
    const keyGroups: Record<number, unknown> = {};
    for (const [group, entries] of Object.entries(snapshot.keyGroups)) {
      const keyGroup = Number(group);
      if (keyGroup >= range.start && keyGroup <= range.end) keyGroups[keyGroup] = copyState(entries);
    }
    return { keyGroups, ...(snapshot.operatorState === undefined ? {} : { operatorState: copyState(snapshot.operatorState) }) };
  });
}
