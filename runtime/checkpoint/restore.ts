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

const STATEFUL_KINDS = new Set(['dedupe', 'watermarks', 'keyedProcess', 'coProcess', 'window', 'sink']);

/** The uids whose state a checkpoint stores, in a stable order. */
export function statefulOperatorUids(plan: PhysicalPlan): string[] {
  return plan.graph.nodes.filter((n) => STATEFUL_KINDS.has(n.spec.kind)).map((n) => n.uid).sort();
}

export function checkRestoreCompatible(metadata: CheckpointMetadata, plan: PhysicalPlan, maxParallelism: number): void {
  const where = `checkpoint ${metadata.checkpointId}`;
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
  if (missing.length > 0 || added.length > 0) {
    const parts = [
      missing.length ? `state for ${missing.map((u) => `"${u}"`).join(', ')} has no step in this job` : '',
      added.length ? `${added.map((u) => `"${u}"`).join(', ')} ${added.length === 1 ? 'has' : 'have'} no state in the checkpoint` : '',
    ].filter(Boolean);
    throw new CoattailError('RESTORE_MISMATCH', `${where} does not match this job's operators: ${parts.join('; ')}`);
  }
}

/** The snapshots a new subtask restores: every stored key group inside its range, from whichever old subtask. */
export function snapshotsForSubtask(
  stored: readonly SubtaskCheckpointState[],
  subtaskIndex: number,
  parallelism: number,
  maxParallelism: number,
): Record<string, OperatorSnapshot[]> {
  const range = keyGroupRangeFor(subtaskIndex, parallelism, maxParallelism);
  const result: Record<string, OperatorSnapshot[]> = {};
  for (const state of stored) {
    for (const [uid, snapshot] of Object.entries(state.operators)) {
      const keyGroups: Record<number, unknown> = {};
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
