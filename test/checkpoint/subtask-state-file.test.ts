// A restore hands each new subtask the still-encoded bytes of its own key groups: the coordinator keeps no decoded
// operator state (a restore of 200k symbols peaked at 1,442 MiB against 1,075 MiB for the run that wrote it), and a
// subtask decodes exactly the snapshots the coordinator used to narrow for it (docs/decisions.md §34).
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';

import { sealBlob } from '../../runtime/checkpoint/blob.js';
import { restoredParts } from '../../runtime/exec/restore-run.js';
import { snapshotsForSubtask, type SubtaskCheckpointState } from '../../runtime/checkpoint/restore.js';
import { encodeState } from '../../runtime/checkpoint/state-codec.js';
import {
  decodeRestoredOperators,
  encodeSubtaskState,
  openSubtaskState,
  restoredBuffers,
  type StoredSubtaskState,
} from '../../runtime/checkpoint/subtask-state-file.js';

const MAX_PARALLELISM = 128;

/** What one of two old subtasks (-p 2) stored: window-like state with Maps, typed arrays and -Infinity. */
function oldSubtask(index: number): SubtaskCheckpointState {
  const keyGroups: Record<number, unknown> = {};
  for (let group = index * 64; group < index * 64 + 64; group += 3) {
    keyGroups[group] = {
      windows: [[60_000, `key-${group}`, 0, { sum: group, min: Number.NEGATIVE_INFINITY }]],
      global: { history: new Map([[`key-${group}`, new Float64Array([1, group])]]) },
    };
  }
  return {
    operators: {
      'volume-window': { keyGroups, operatorState: { windowWatermark: 1_000 + index } },
      'z-score': { keyGroups: { [index * 64 + 1]: [[`key-${index}`, { n: 2 }]] } },
    },
    counters: { 'rows.alerts': 3 + index },
  };
}

const written = [oldSubtask(0), oldSubtask(1)];
const segments: never[] = [];

function opened(encode: (state: SubtaskCheckpointState) => Uint8Array): StoredSubtaskState[] {
  return written.map((state, index) => openSubtaskState(encode(state), `/chk/chk-3/subtask-${index}.state`));
}

describe('a subtask state file opened for a restore', () => {
  it('has its counters decoded and every key group still encoded', () => {
    const [first] = opened(encodeSubtaskState);
    expect(first!.counters).toEqual({ 'rows.alerts': 3 });
    expect(first!.operators['volume-window']!.operatorState).toEqual({ windowWatermark: 1_000 });
    const groups = Object.values(first!.operators['volume-window']!.keyGroups);
    expect(groups.length).toBe(22);
    for (const bytes of groups) expect(bytes).toBeInstanceOf(Uint8Array);
  });

  it.each([1, 2, 3, 5])('gives each of %i subtasks, decoded on its thread, exactly the snapshots narrowed from the decoded files', (parallelism) => {
    for (const [layout, encode] of [
      ['key groups encoded', encodeSubtaskState],
      ['older, key groups decoded', (state: SubtaskCheckpointState) => encodeState(state)],
    ] as const) {
      const parts = restoredParts(segments, opened(encode), parallelism, MAX_PARALLELISM);
      for (let subtask = 0; subtask < parallelism; subtask++) {
        const restore = parts.operatorsFor(subtask);
        expect(decodeRestoredOperators(restore), `${layout}, subtask ${subtask}`).toEqual(snapshotsForSubtask(written, subtask, parallelism, MAX_PARALLELISM));
        // The launch message stays referenced for the run: its encoded bytes are let go as they are decoded.
        expect(Object.values(restore).flat()).toEqual([]);
      }
    }
  });

  it('hands each subtask copies of its own key groups only, moved with its launch message', () => {
    const stored = opened(encodeSubtaskState);
    const storedBytes = stored.flatMap((state) => Object.values(state.operators).flatMap((snapshot) => Object.values(snapshot.keyGroups)));
    const parts = restoredParts(segments, stored, 3, MAX_PARALLELISM);
    let handedOut = 0;
    for (let subtask = 0; subtask < 3; subtask++) {
      const restore = parts.operatorsFor(subtask);
      const groups = Object.values(restore).flatMap((snapshots) => snapshots.flatMap((snapshot) => Object.values(snapshot.keyGroups)));
      // Not a view into the file: a structured clone of a view copies its whole buffer (the whole file).
      for (const bytes of groups) expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
      expect(restoredBuffers(restore)).toHaveLength(groups.length);
      handedOut += groups.reduce((sum, bytes) => sum + bytes.byteLength, 0);
    }
    expect(handedOut).toBe(storedBytes.reduce((sum, bytes) => sum + bytes.byteLength, 0));
  });

  it('fails with CHECKPOINT_CORRUPT, naming the file, step and key group, when a key group does not decode', () => {
    const restore = { 'z-score': [{ file: '/chk/chk-3/subtask-1.state', keyGroups: { 65: new Uint8Array([1, 2, 3]) } }] };
    expect(() => decodeRestoredOperators(restore)).toThrow(
      expect.objectContaining({
        code: 'CHECKPOINT_CORRUPT',
        message: expect.stringMatching(/^Checkpoint file \/chk\/chk-3\/subtask-1\.state is corrupt: key group 65 of step "z-score" does not decode \(Unable to deserialize/),
      }),
    );
  });

  it('refuses a layout it does not know as corrupt', () => {
    expect(() => openSubtaskState(encodeState({ layout: 9, operators: {}, counters: {} }), '/chk/chk-3/subtask-0.state')).toThrow(
      expect.objectContaining({ code: 'CHECKPOINT_CORRUPT', message: expect.stringContaining('unknown state layout 9') }),
    );
  });
});

describe('a subtask state file written at a checkpoint', () => {
  it('names the step whose keyed or operator-wide state cannot be stored', () => {
    const keyed = { operators: { remember: { keyGroups: { 3: [() => 1] } } }, counters: {} };
    const operatorWide = { operators: { ok: { keyGroups: {} }, timers: { keyGroups: {}, operatorState: { next: Promise.resolve() } } }, counters: {} };
    expect(() => encodeSubtaskState(keyed)).toThrow(expect.objectContaining({ code: 'CHECKPOINT_FAILED', message: expect.stringMatching(/^step "remember" keeps state a checkpoint cannot store/) }));
    expect(() => encodeSubtaskState(operatorWide)).toThrow(expect.objectContaining({ code: 'CHECKPOINT_FAILED', message: expect.stringMatching(/^step "timers" keeps state/) }));
  });
});

describe('encodeState', () => {
  it('frames the payload in place, byte for byte as sealing a serialized copy did', () => {
    const value = { layout: 2, operators: { w: { keyGroups: { 3: serialize([['k', new Map([[1, -Infinity]])]]) } } }, counters: { a: 1 } };
    const encoded = encodeState(value);
    expect(Buffer.from(encoded).equals(Buffer.from(sealBlob(serialize(value))))).toBe(true);
    expect(encoded.buffer.byteLength).toBe(encoded.byteLength);
  });
});
