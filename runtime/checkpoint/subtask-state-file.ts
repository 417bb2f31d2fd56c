// A subtask's state file, with each step's key groups encoded one by one: a restore hands every new subtask the
// still-encoded bytes of its own key groups, and only that subtask's thread decodes them (docs/decisions.md §34).

import { deserialize, serialize } from 'node:v8';
import { CoattailError, describeError } from '../errors.js';
import type { OperatorSnapshot } from '../exec/stream-operator.js';
import type { SubtaskCheckpointState } from './restore.js';
import { decodeState, encodeState, unstorableState } from './state-codec.js';

/** A step's snapshot with each key group's entries still encoded (V8 serializer), as the coordinator handles it. */
export interface EncodedOperatorSnapshot {
  readonly keyGroups: Record<number, Uint8Array>;
  readonly operatorState?: unknown;
}

/** A subtask state file opened on the coordinator: its counters decoded, its steps' key groups not. */
export interface StoredSubtaskState {
  /** How errors name the file, e.g. `/data/chk/chk-3/subtask-0.state`. */
  readonly file: string;
  readonly operators: Record<string, EncodedOperatorSnapshot>;
  readonly counters: Record<string, number>;
}

/** What a new subtask receives to restore, by step uid: every stored snapshot narrowed to its key groups. */
export type RestoredOperatorState = Record<string, Array<EncodedOperatorSnapshot & { readonly file: string }>>;

/**
 * Marks the layout with encoded key groups. Files without it (checkpoints written before §34) hold their key groups
 * decoded; they restore, at the cost of decoding each such file once on the coordinator.
 */
const KEY_GROUPS_ENCODED = 2;

interface EncodedLayout {
  readonly layout: typeof KEY_GROUPS_ENCODED;
  readonly operators: Record<string, EncodedOperatorSnapshot>;
  readonly counters: Record<string, number>;
}

/**
 * Encodes a subtask's snapshot. State that V8's serializer cannot copy (a function, a Promise, a socket kept in
 * keyed state) fails naming its step: V8's own message names only the value.
 */
export function encodeSubtaskState(snapshot: SubtaskCheckpointState): Uint8Array {
  const operators: Record<string, EncodedOperatorSnapshot> = {};
  for (const [step, state] of Object.entries(snapshot.operators)) {
    operators[step] = encodeKeyGroups(state, (value) => encodeStepValue(step, value));
  }
  const layout: EncodedLayout = { layout: KEY_GROUPS_ENCODED, operators, counters: snapshot.counters };
  try {
    return encodeState(layout);
  } catch (error) {
    // Only operator-wide state is left unencoded here.
    for (const [step, state] of Object.entries(snapshot.operators)) encodeStepValue(step, state.operatorState);
    throw error;
  }
}

function encodeStepValue(step: string, value: unknown): Uint8Array {
  try {
    return serialize(value);
  } catch (error) {
    throw unstorableState(step, error);
  }
}

function encodeKeyGroups(snapshot: OperatorSnapshot, encode: (value: unknown) => Uint8Array): EncodedOperatorSnapshot {
  const keyGroups: Record<number, Uint8Array> = {};
  for (const [group, entries] of Object.entries(snapshot.keyGroups)) keyGroups[Number(group)] = encode(entries);
  return { keyGroups, ...(snapshot.operatorState === undefined ? {} : { operatorState: snapshot.operatorState }) };
}

/**
 * Checks a subtask state file and opens it without decoding its key groups: they stay views into `bytes`. A file
 * of the older layout is decoded here, and its key groups encoded again at once, so its decoded copy lives only
 * while this call runs (one file at a time).
 */
export function openSubtaskState(bytes: Uint8Array, name: string): StoredSubtaskState {
  const decoded = decodeState<EncodedLayout | SubtaskCheckpointState | { readonly layout: unknown }>(bytes, name);
  if ('layout' in decoded) {
    if (decoded.layout !== KEY_GROUPS_ENCODED) {
      throw new CoattailError('CHECKPOINT_CORRUPT', `Checkpoint file ${name} is corrupt: unknown state layout ${String(decoded.layout)} (this coattail reads layout ${KEY_GROUPS_ENCODED})`);
    }
    const { operators, counters } = decoded as EncodedLayout;
    return { file: name, operators, counters };
  }
  const older = decoded as SubtaskCheckpointState;
  const operators: Record<string, EncodedOperatorSnapshot> = {};
  for (const [step, state] of Object.entries(older.operators)) operators[step] = encodeKeyGroups(state, (value) => serialize(value));
  return { file: name, operators, counters: older.counters };
}

/** The buffers of a subtask's restored key groups, to transfer with its launch message rather than copy them. */
export function restoredBuffers(restore: RestoredOperatorState | undefined): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const snapshots of Object.values(restore ?? {})) {
    for (const snapshot of snapshots) for (const bytes of Object.values(snapshot.keyGroups)) buffers.add(bytes.buffer as ArrayBuffer);
  }
  return [...buffers];
}

/**
 * Decodes what a subtask restores, on its own thread. The encoded bytes are let go as they are decoded (the launch
 * message that carries them stays referenced for the whole run). A key group that does not decode fails with
 * CHECKPOINT_CORRUPT naming its file, step and key group.
 */
export function decodeRestoredOperators(restore: RestoredOperatorState): Record<string, OperatorSnapshot[]> {
  const result: Record<string, OperatorSnapshot[]> = {};
  for (const [step, snapshots] of Object.entries(restore)) {
    const decoded: OperatorSnapshot[] = (result[step] = []);
    for (const snapshot of snapshots.splice(0)) {
      const keyGroups: Record<number, unknown> = {};
      for (const [group, bytes] of Object.entries(snapshot.keyGroups)) {
        keyGroups[Number(group)] = decodeKeyGroup(bytes, snapshot.file, step, group);
      }
      decoded.push({ keyGroups, ...(snapshot.operatorState === undefined ? {} : { operatorState: snapshot.operatorState }) });
    }
  }
  return result;
}

function decodeKeyGroup(bytes: Uint8Array, file: string, step: string, group: string): unknown {
  try {
    return deserialize(bytes);
  } catch (error) {
    throw new CoattailError('CHECKPOINT_CORRUPT', `Checkpoint file ${file} is corrupt: key group ${group} of step "${step}" does not decode (${describeError(error)})`, {
      cause: error,
    });
  }
}
