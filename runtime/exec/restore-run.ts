// Prepares a run restored from a checkpoint: loads and checks it, commits or discards sink output,
// maps split positions and watermarks onto the current splits and hands each subtask its key groups.
// `latest` with no completed checkpoint yet means a run from the beginning (undefined).

import type { SplitDescriptor, SplitPosition } from '../api/source.js';
import { CoattailError } from '../errors.js';
import { addCounts } from './metrics.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import { openCheckpointStore, resolveRestoreTarget } from '../checkpoint/checkpoint-store.js';
import { changedSections } from '../checkpoint/config-digest.js';
import {
  abandonedSplits,
  checkRestoreCompatible,
  hasFileTables,
  orderedStateForSplits,
  pendingBySink,
  snapshotsForSubtask,
  type CoordinatorCheckpointState,
} from '../checkpoint/restore.js';
import { openSubtaskState, type RestoredOperatorState, type StoredSubtaskState } from '../checkpoint/subtask-state-file.js';
import type { RunOptions } from './run-options.js';
import type { DedupeSegmentData } from './dedupe-journal.js';

export interface RestoredRun {
  readonly checkpointId: number;
  readonly coordinator: CoordinatorCheckpointState;
  readonly startPositions: ReadonlyArray<SplitPosition | undefined>;
  readonly alreadyEnded: readonly boolean[];
  /** Per current split: the watermark to start from (+Infinity for ended splits). */
  readonly watermarks: number[];
  /** Sum of the subtasks' counters at the checkpoint. */
  readonly subtaskCounters: Record<string, number>;
  /**
   * The dedupe journal's segments, oldest first, handed out once: the run keeps their ids in its journal, and
   * keeping the decoded segments too held a second copy of every id for the whole restored run.
   */
  takeDedupeSegments(): ReadonlyArray<{ key: string; data: () => DedupeSegmentData }>;
  /**
   * A new subtask's part of the operator state, its key groups still encoded (copied out of their files, so the
   * launch message carries only them): the subtask's thread decodes them, the coordinator never does (§34).
   */
  operatorsFor(subtaskIndex: number): RestoredOperatorState;
  /** Every subtask has its part of the operator state: forget the checkpoint's (it is no longer needed). */
  releaseOperatorState(): void;
}

/**
 * The parts of a loaded checkpoint that a run takes once. Built here, apart from `prepareRestore`, so these closures
 * hold only the segments and subtask states, not the whole loaded checkpoint (a closure keeps every variable of its
 * scope that any closure there uses).
 */
export function restoredParts(
  segments: ReadonlyArray<{ key: string; data: () => DedupeSegmentData }>,
  subtaskStates: readonly StoredSubtaskState[],
  parallelism: number,
  maxParallelism: number,
): Pick<RestoredRun, 'takeDedupeSegments' | 'operatorsFor' | 'releaseOperatorState'> {
  let untaken: ReadonlyArray<{ key: string; data: () => DedupeSegmentData }> | undefined = segments;
  let states: readonly StoredSubtaskState[] | undefined = subtaskStates;
  return {
    takeDedupeSegments() {
      if (!untaken) throw new Error('internal error: the restored dedupe segments were already taken');
      const taken = untaken;
      untaken = undefined;
      return taken;
    },
    operatorsFor(subtaskIndex) {
      if (!states) throw new Error('internal error: the restored operator state was already released');
      const result: RestoredOperatorState = {};
      for (const state of states) {
        for (const [uid, snapshots] of Object.entries(snapshotsForSubtask([state], subtaskIndex, parallelism, maxParallelism))) {
          for (const { keyGroups, ...rest } of snapshots) {
            const copied: Record<number, Uint8Array> = {};
            for (const [group, bytes] of Object.entries(keyGroups)) copied[Number(group)] = new Uint8Array(bytes); // a copy: a Buffer's slice() is a view
            (result[uid] ??= []).push({ file: state.file, keyGroups: copied, ...rest });
          }
        }
      }
      return result;
    },
    releaseOperatorState() {
      states = undefined;
    },
  };
}

export async function prepareRestore(
  options: RunOptions,
  plan: PhysicalPlan,
  splits: readonly SplitDescriptor[],
  log: (message: string) => void,
  /** This run's configDigests (absent for a job without a `prepare` step). */
  currentConfig?: Readonly<Record<string, string>>,
): Promise<RestoredRun | undefined> {
  if (!options.checkpoint) throw new CoattailError('BAD_ARGUMENT', '--restore needs a checkpoint directory');
  const target = resolveRestoreTarget(options.restore!, options.checkpoint.location);
  const store = openCheckpointStore(target.location, options.checkpoint.s3Endpoint);
  if (target.which === 'latest' && (await store.completedIds()).length === 0) {
    // Nothing checkpointed yet (killed before the first checkpoint completed, or never run): no output was
    // committed, so the run starts from the beginning, as Flink's restart strategy and a Spark query on an empty
    // checkpointLocation do. Parts the interrupted run left in progress are removed.
    log(`no checkpoint in ${store.storage.location} to restore: starting from the beginning of the input`);
    const context = { outDir: options.outDir, format: options.format, ownAttempts: await store.attemptIds() };
    for (const node of plan.graph.nodes) {
      if (node.spec.kind === 'sink' && node.spec.factory.recover) await node.spec.factory.recover(context, [], []);
    }
    return undefined;
  }
  // Subtask state files are checked and their counters decoded; their steps' key groups stay encoded (§34).
  const loaded = await store.loadForRestore<CoordinatorCheckpointState, StoredSubtaskState>(target.which, log, openSubtaskState);
  const { metadata } = loaded;
  const { startEmpty, dropped } = checkRestoreCompatible(metadata, plan, options.maxParallelism, {
    ...(hasFileTables(plan) ? { format: options.format } : {}),
    allowNonRestoredState: options.allowNonRestoredState === true,
  });
  if (dropped.length > 0) {
    log(`checkpoint ${metadata.checkpointId} holds state for ${quoted(dropped)}, which this job has no step for: dropped (--allow-non-restored-state)`);
  }
  if (startEmpty.length > 0) log(`no state in checkpoint ${metadata.checkpointId} for ${startEmpty.map((u) => `"${u}"`).join(', ')}: starting empty`);
  // As in Flink, changed settings do not stop a restore (a threshold may change on purpose); they are named,
  // since windows of another size or delay written after the restore sit in the same tables as earlier ones.
  const changed = metadata.configDigests && currentConfig ? changedSections(metadata.configDigests, currentConfig) : [];
  if (changed.length > 0) {
    const sections = changed.map((key) => (key === '' ? 'the prepared configuration' : key)).join(', ');
    log(`checkpoint ${metadata.checkpointId} was taken with other settings (changed: ${sections}); its state is restored as it is and the new settings apply from here on`);
  }

  // Two-phase commit, second phase: whatever the checkpoint prepared becomes visible; later output is discarded,
  // including output newer checkpoints committed before the restore had to skip them as damaged.
  const pending = pendingBySink(metadata);
  const revoked = new Map<string, unknown[]>();
  const newerIds = (await store.completedIds()).filter((id) => id > metadata.checkpointId);
  // Marked before any of their output is removed: a kill during this restore must not leave `latest` pointing at a
  // checkpoint whose committed rows are gone (it would fail to commit, or silently lack those rows). Only in the
  // folder this run checkpoints to, where `latest` looks; a checkpoint restored by path from elsewhere (maybe a
  // read-only copy) leaves that folder untouched.
  if (isRunStore(target.location, store.storage.location, options.checkpoint)) {
    const alreadyAbandoned = await store.abandonedIds();
    for (const id of newerIds) if (!alreadyAbandoned.has(id)) await store.markAbandoned(id, metadata.checkpointId);
  }
  for (const id of newerIds) {
    const newer = await store.readMetadata(id).catch(() => undefined);
    if (!newer) {
      log(`checkpoint ${id} is newer than the one restored and unreadable: output it committed cannot be removed`);
      continue;
    }
    for (const [sink, list] of pendingBySink(newer)) revoked.set(sink, [...(revoked.get(sink) ?? []), ...list]);
  }
  const context = { outDir: options.outDir, format: options.format, ownAttempts: await store.attemptIds() };
  for (const node of plan.graph.nodes) {
    if (node.spec.kind !== 'sink' || !node.spec.factory.recover) continue;
    await node.spec.factory.recover(context, pending.get(node.uid) ?? [], revoked.get(node.uid) ?? []);
  }

  const unread = abandonedSplits(metadata, splits);
  if (unread.length > 0) {
    log(`checkpoint ${metadata.checkpointId} was still reading ${unread.join(', ')}, which ${options.source.uri} does not have: the rest of ${unread.length === 1 ? 'it' : 'them'} is not read`);
  }
  const byId = new Map(metadata.splits.map((split) => [split.splitId, split]));
  const startPositions = splits.map((split) => byId.get(split.splitId)?.position);
  const alreadyEnded = splits.map((split) => byId.get(split.splitId)?.ended ?? false);
  const ordered = orderedStateForSplits(loaded.coordinator.ordered, metadata.splits, splits, alreadyEnded);
  const coordinator: CoordinatorCheckpointState = { ...loaded.coordinator, ordered };
  const subtaskCounters: Record<string, number> = {};
  for (const state of loaded.subtasks) addCounts(subtaskCounters, state.counters);
  log(`restoring checkpoint ${metadata.checkpointId} (${metadata.parallelism} -> ${options.parallelism} subtasks) from ${store.storage.location}`);
  return {
    checkpointId: metadata.checkpointId,
    coordinator,
    startPositions,
    alreadyEnded,
    watermarks: ordered.splitWatermarks,
    subtaskCounters,
    ...restoredParts(
      loaded.coordinator.ordered.dedupeSegments.map((key) => ({ key, data: loaded.shared.get(key) as () => DedupeSegmentData })),
      loaded.subtasks,
      options.parallelism,
      options.maxParallelism,
    ),
  };
}

function quoted(uids: readonly string[]): string {
  return uids.map((uid) => `"${uid}"`).join(', ');
}

/** Whether the restored checkpoint's folder is the one this run writes checkpoints to (and a later `latest` reads). */
function isRunStore(given: string, opened: string, checkpoint: NonNullable<RunOptions['checkpoint']>): boolean {
  if (given === checkpoint.location) return true;
  if (/^s3:\/\//i.test(checkpoint.location)) return false;
  return openCheckpointStore(checkpoint.location, checkpoint.s3Endpoint).storage.location === opened;
}
