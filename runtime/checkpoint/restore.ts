// Restoring a checkpoint into a (possibly rescaled) run: compatibility checks and key-group reassignment.

import { CoattailError } from '../errors.js';
import type { OperatorSnapshot } from '../exec/stream-operator.js';
import type { OrderedStageState } from '../exec/ordered-stage.js';
import { keyGroupRangeFor } from '../plan/key-groups.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import type { CheckpointMetadata } from './metadata.js';

export interface CoordinatorCheckpointState {
  readonly ordered: OrderedStageState;
  /** Counters of the coordinator and the decode stage at the barrier. */
  readonly counters: Record<string, number>;
}

export interface SubtaskCheckpointState {
  readonly operators: Record<string, OperatorSnapshot>;
  readonly counters: Record<string, number>;
}

const STATEFUL_KINDS = new Set(['dedupe', 'watermarks', 'keyedProcess', 'coProcess', 'window']);

/**
 * The uids whose state a checkpoint stores, in a stable order. A sink counts only if it can recover pending
 * output (files, lazily created connectors): stdout and counting sinks hold nothing, so a live run's savepoint
 * (with its console sink) restores into a bounded run of the same job, and the other way round.
 */
export function statefulOperatorUids(plan: PhysicalPlan): string[] {
  return plan.graph.nodes
    .filter((n) => STATEFUL_KINDS.has(n.spec.kind) || (n.spec.kind === 'sink' && n.spec.factory.recover !== undefined))
    .map((n) => n.uid)
    .sort();
}

/** Whether the job writes file tables whose pending parts a checkpoint lists (sinks that recover output). */
export function hasFileTables(plan: PhysicalPlan): boolean {
  return plan.graph.nodes.some((node) => node.spec.kind === 'sink' && node.spec.factory.recover !== undefined);
}

export interface RestoreCompatibility {
  /** Stateful steps of this job the checkpoint has no state for: they start empty. */
  readonly startEmpty: string[];
  /** Steps the checkpoint has state for that this job lacks, dropped because the run allows it. */
  readonly dropped: string[];
}

/**
 * Refuses a checkpoint this run cannot continue. `format`: this run's table format, for a job with file tables.
 * State this job has no step for is refused (as Flink without --allowNonRestoredState): a renamed or removed
 * stateful step would silently lose it; `allowNonRestoredState` drops it instead. Steps the checkpoint has no
 * state for start empty, as new operators do in Flink (an added sink such as --alerts, a new detector).
 */
export function checkRestoreCompatible(
  metadata: CheckpointMetadata,
  plan: PhysicalPlan,
  maxParallelism: number,
  options: { readonly format?: string; readonly allowNonRestoredState?: boolean } = {},
): RestoreCompatibility {
  const { format } = options;
  const where = `checkpoint ${metadata.checkpointId}`;
  if (format !== undefined && metadata.outputFormat !== undefined && metadata.outputFormat !== format) {
    throw new CoattailError(
      'RESTORE_MISMATCH',
      `${where} was taken by a run writing ${metadata.outputFormat} tables, this run writes ${format}; a table's parts stay in one format, run with -f ${metadata.outputFormat}`,
    );
  }
  if (metadata.maxParallelism !== maxParallelism) {
    throw new CoattailError(
      'RESTORE_MISMATCH',
      `${where} was taken with --max-parallelism ${metadata.maxParallelism}, this run uses ${maxParallelism}; key groups cannot be remapped, run with --max-parallelism ${metadata.maxParallelism}`,
    );
  }
  const current = new Set(statefulOperatorUids(plan));
  const stored = new Set(metadata.operators);
  const missing = [...stored].filter((uid) => !current.has(uid));
  const added = [...current].filter((uid) => !stored.has(uid));
  if (missing.length > 0 && !options.allowNonRestoredState) {
    throw new CoattailError(
      'RESTORE_MISMATCH',
      `${where} does not match this job's operators: state for ${missing.map((u) => `"${u}"`).join(', ')} has no step in this job ` +
        '(a step renamed or removed: give it its old name back, or drop that state with --allow-non-restored-state)',
    );
  }
  return { startEmpty: added, dropped: missing };
}

/** A step's snapshot with its key groups' entries of type `Entries` (decoded, or still encoded bytes). */
export interface KeyGroupedSnapshot<Entries> {
  readonly keyGroups: Record<number, Entries>;
  readonly operatorState?: unknown;
}

/**
 * The snapshots a new subtask restores: every stored key group inside its range, from whichever old subtask. Every
 * stored snapshot of a step is listed, with no key group when none is in range, since its operator-wide state
 * (a window's watermark) applies to every subtask.
 */
export function snapshotsForSubtask<Entries>(
  stored: ReadonlyArray<{ readonly operators: Readonly<Record<string, KeyGroupedSnapshot<Entries>>> }>,
  subtaskIndex: number,
  parallelism: number,
  maxParallelism: number,
): Record<string, Array<KeyGroupedSnapshot<Entries>>> {
  const range = keyGroupRangeFor(subtaskIndex, parallelism, maxParallelism);
  const result: Record<string, Array<KeyGroupedSnapshot<Entries>>> = {};
  for (const state of stored) {
    for (const [uid, snapshot] of Object.entries(state.operators)) {
      const keyGroups: Record<number, Entries> = {};
      for (const [group, entries] of Object.entries(snapshot.keyGroups)) {
        const keyGroup = Number(group);
        if (keyGroup >= range.start && keyGroup <= range.end) keyGroups[keyGroup] = entries;
      }
      (result[uid] ??= []).push({ keyGroups, ...(snapshot.operatorState === undefined ? {} : { operatorState: snapshot.operatorState }) });
    }
  }
  return result;
}

/** Pending sink output by sink uid, to commit before the restored run starts. */
export function pendingBySink(metadata: CheckpointMetadata): Map<string, unknown[]> {
  const result = new Map<string, unknown[]>();
  for (const { sink, pending } of metadata.pendingCommits) {
    const list = result.get(sink) ?? [];
    list.push(pending);
    result.set(sink, list);
  }
  return result;
}

/**
 * The ordered stage's state with its per-split arrays laid out for this run's splits: a checkpoint's split `i` may be
 * another split now (a file added to the folder, a Kinesis parent past retention), so they are matched by split id.
 * An ended split starts at watermark +Infinity; a split the checkpoint did not know starts with no record.
 */
export function orderedStateForSplits(
  state: OrderedStageState,
  checkpointSplits: ReadonlyArray<{ readonly splitId: string }>,
  splits: ReadonlyArray<{ readonly splitId: string }>,
  alreadyEnded: readonly boolean[],
): OrderedStageState {
  const oldIndex = splits.map((split) => checkpointSplits.findIndex((old) => old.splitId === split.splitId));
  const splitWatermarks = splits.map((_, index) => {
    if (alreadyEnded[index]) return Number.POSITIVE_INFINITY;
    const old = oldIndex[index]!;
    return old < 0 ? Number.NEGATIVE_INFINITY : (state.splitWatermarks[old] ?? Number.NEGATIVE_INFINITY);
  });
  // The dedupe clock's per-split newest times too: left in the checkpoint's order, a split took the newest time of
  // the one that was at its index, and the clock could jump past ids still within the horizon of the others.
  const { splitNewest } = state;
  if (splitNewest === undefined) return { ...state, splitWatermarks };
  return { ...state, splitWatermarks, splitNewest: oldIndex.map((old) => (old < 0 ? undefined : splitNewest[old])) };
}

/**
 * Splits the checkpoint was still reading that the source no longer has (a file renamed or gone, `-s` naming another
 * input): the rest of them is never read. Allowed, as a changed source is, but named, since rows go missing.
 */
export function abandonedSplits(metadata: CheckpointMetadata, splits: ReadonlyArray<{ readonly splitId: string }>): string[] {
  const current = new Set(splits.map((split) => split.splitId));
  return metadata.splits.filter((split) => !split.ended && !current.has(split.splitId)).map((split) => split.origin);
}
