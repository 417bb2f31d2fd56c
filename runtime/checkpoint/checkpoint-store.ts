// Writes, lists, validates and prunes checkpoints in a CheckpointStorage; `_metadata` is always written last.

import { CoattailError, describeError, isCoattailError } from '../errors.js';
import type { CheckpointStorage } from './storage/storage.js';
import { openCheckpointStorage } from './storage/index.js';
import { abandonedKey, ATTEMPTS_FOLDER, attemptKey, CHECKPOINT_FORMAT_VERSION, checkpointFolder, checkpointIdOf, metadataKey, type CheckpointMetadata } from './metadata.js';
import { checkedState, decodeState, encodeState } from './state-codec.js';
import { basename, dirname, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';

export interface LoadedCheckpoint<C, S> {
  readonly metadata: CheckpointMetadata;
  readonly coordinator: C;
  readonly subtasks: S[];
  /**
   * The shared files the checkpoint refers to, by key: checked, decoded when called (once). Decoding them all at load
   * held every dedupe id of the checkpoint twice during a restore (decoded, and again in the rebuilt journal).
   */
  readonly shared: ReadonlyMap<string, () => unknown>;
}

export class CheckpointStore {
  constructor(readonly storage: CheckpointStorage) {}

  /** Ids of checkpoints whose `_metadata` exists, ascending. */
  async completedIds(): Promise<number[]> {
    const keys = await this.storage.list('');
    const ids = new Set<number>();
    for (const key of keys) {
      const id = checkpointIdOf(key);
      if (id !== undefined && key === metadataKey(id)) ids.add(id);
    }
    return [...ids].sort((a, b) => a - b);
  }

  /** Every checkpoint folder, complete or not. */
  async allIds(): Promise<number[]> {
    const ids = new Set<number>();
    for (const key of await this.storage.list('')) {
      const id = checkpointIdOf(key);
      if (id !== undefined) ids.add(id);
    }
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * Completed checkpoints that the restore of an older checkpoint abandoned, with the id that restore started
   * from: the output they committed was removed, so restoring them would lose rows.
   */
  async abandonedIds(): Promise<Map<number, number>> {
    const abandoned = new Map<number, number>();
    for (const key of await this.storage.list('')) {
      const id = checkpointIdOf(key);
      if (id === undefined || key !== abandonedKey(id)) continue;
      const marker = await this.storage
        .get(key)
        .then((bytes) => decodeState<{ restoredCheckpointId?: number }>(bytes, `${this.storage.location}/${key}`))
        .catch(() => ({}) as { restoredCheckpointId?: number });
      abandoned.set(id, marker.restoredCheckpointId ?? Number.NaN);
    }
    return abandoned;
  }

  /** Mark a checkpoint as abandoned by the restore of `restoredCheckpointId` (before its output is removed). */
  async markAbandoned(checkpointId: number, restoredCheckpointId: number): Promise<void> {
    await this.storage.put(abandonedKey(checkpointId), encodeState({ restoredCheckpointId }));
  }

  /** Written before the run's sinks open: this folder's restores may then remove that attempt's in-progress parts. */
  async registerAttempt(attemptId: string): Promise<void> {
    await this.storage.put(attemptKey(attemptId), encodeState({ startedAt: new Date().toISOString() }));
  }

  /** Attempt ids of every run that checkpointed (or started to) in this folder. */
  async attemptIds(): Promise<Set<string>> {
    const keys = await this.storage.list(ATTEMPTS_FOLDER);
    return new Set(keys.filter((key) => key.startsWith(ATTEMPTS_FOLDER)).map((key) => key.slice(ATTEMPTS_FOLDER.length)));
  }

  async putState(checkpointId: number, name: string, value: unknown): Promise<{ key: string; bytes: number }> {
    const key = `${checkpointFolder(checkpointId)}/${name}`;
    const bytes = encodeState(value);
    await this.storage.put(key, bytes);
    return { key, bytes: bytes.byteLength };
  }

  /** A file shared by several checkpoints (under `shared/`); returns its size. */
  async putShared(key: string, value: unknown): Promise<number> {
    const bytes = encodeState(value);
    await this.storage.put(key, bytes);
    return bytes.byteLength;
  }

  /**
   * A file checkpoint `checkpointId` lists, checked and handed to `decode`: one that is missing makes the checkpoint
   * damaged, not absent.
   */
  private async readFileOf<T>(
    checkpointId: number,
    what: 'state file' | 'shared file',
    key: string,
    decode: (bytes: Uint8Array, name: string) => T,
  ): Promise<T> {
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.get(key);
    } catch (error) {
      if (isCoattailError(error) && error.code === 'CHECKPOINT_NOT_FOUND') {
        throw new CoattailError('CHECKPOINT_CORRUPT', `checkpoint ${checkpointId} is missing its ${what} ${this.storage.location}/${key}`, { cause: error });
      }
      throw error;
    }
    return decode(bytes, `${this.storage.location}/${key}`);
  }

  async putMetadata(metadata: CheckpointMetadata): Promise<void> {
    await this.storage.put(metadataKey(metadata.checkpointId), encodeState(metadata));
  }

  async readMetadata(checkpointId: number): Promise<CheckpointMetadata> {
    const key = metadataKey(checkpointId);
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.get(key);
    } catch (error) {
      if (isCoattailError(error) && error.code === 'CHECKPOINT_NOT_FOUND') {
        // A folder without _metadata never completed; no folder at all was pruned (--retain) or never taken.
        if (!(await this.allIds()).includes(checkpointId)) {
          const completed = (await this.completedIds()).map((id) => `chk-${id}`).join(', ') || 'none';
          throw new CoattailError('CHECKPOINT_NOT_FOUND', `checkpoint ${checkpointId} is not in ${this.storage.location} (pruned, or never taken); completed there: ${completed}`);
        }
        throw new CoattailError('CHECKPOINT_CORRUPT', `checkpoint ${checkpointId} in ${this.storage.location} has no _metadata (it never completed)`);
      }
      throw error;
    }
    const metadata = decodeState<CheckpointMetadata>(bytes, `${this.storage.location}/${key}`);
    if (metadata.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
      throw new CoattailError('CHECKPOINT_CORRUPT', `${this.storage.location}/${key} has format version ${metadata.formatVersion}, expected ${CHECKPOINT_FORMAT_VERSION}`);
    }
    return metadata;
  }

  /**
   * Read and verify every file of a checkpoint. `openSubtask` turns a subtask state file into what the caller keeps
   * of it (by default, all of it decoded), as each is read.
   */
  async load<C, S>(checkpointId: number, openSubtask: (bytes: Uint8Array, name: string) => S = decodeState<S>): Promise<LoadedCheckpoint<C, S>> {
    const metadata = await this.readMetadata(checkpointId);
    const coordinator = await this.readFileOf(checkpointId, 'state file', metadata.coordinatorFile.key, decodeState<C>);
    const subtasks = await Promise.all(metadata.subtasks.map((s) => this.readFileOf(checkpointId, 'state file', s.file.key, openSubtask)));
    // Shared files (dedupe segments) are checked now and decoded one at a time as the restore uses them.
    const shared = new Map<string, () => unknown>();
    for (const key of metadata.sharedFiles) shared.set(key, await this.readFileOf(checkpointId, 'shared file', key, checkedState));
    return { metadata, coordinator, subtasks, shared };
  }

  /**
   * `latest`: the newest checkpoint that loads; a damaged newer one is reported through `warn` and skipped.
   * A number or `chk-N`: exactly that one, or an error naming what is wrong.
   */
  async loadForRestore<C, S>(
    which: string,
    warn: (message: string) => void,
    openSubtask: (bytes: Uint8Array, name: string) => S = decodeState<S>,
  ): Promise<LoadedCheckpoint<C, S>> {
    const abandoned = await this.abandonedIds();
    const abandonedBy = (id: number): string => {
      const by = abandoned.get(id)!;
      return `checkpoint ${id} was abandoned when ${Number.isNaN(by) ? 'an older checkpoint' : `checkpoint ${by}`} was restored (the output it committed was removed)`;
    };
    if (which !== 'latest') {
      const id = parseCheckpointId(which);
      if (abandoned.has(id)) throw new CoattailError('RESTORE_MISMATCH', `${abandonedBy(id)}; restore that one or a newer checkpoint`);
      return this.load<C, S>(id, openSubtask);
    }
    const candidates = (await this.allIds()).reverse();
    if (candidates.length === 0) throw new CoattailError('CHECKPOINT_NOT_FOUND', `no checkpoint to restore in ${this.storage.location}`);
    for (const id of candidates) {
      if (abandoned.has(id)) {
        warn(`skipping checkpoint ${id}: ${abandonedBy(id)}`);
        continue;
      }
      try {
        const loaded = await this.load<C, S>(id, openSubtask);
        if (id !== candidates[0]) warn(`restoring checkpoint ${id}, the newest valid one`);
        return loaded;
      } catch (error) {
        if (!isCoattailError(error) || error.code !== 'CHECKPOINT_CORRUPT') throw error;
        warn(`skipping checkpoint ${id}: ${describeError(error)}`);
      }
    }
    throw new CoattailError('CHECKPOINT_CORRUPT', `no valid checkpoint in ${this.storage.location}: every candidate is damaged`);
  }

  /**
   * Keep the newest `retain` completed checkpoints that were not abandoned, and every savepoint that was not: as in
   * Flink, a savepoint (the one a stopped run names to resume from) belongs to the user, and retention never deletes
   * it. Delete older checkpoints, incomplete folders and abandoned checkpoints below the newest kept one (a restore
   * that abandoned them has finished removing their output once a newer checkpoint completed).
   */
  async prune(retain: number): Promise<void> {
    const abandoned = await this.abandonedIds();
    const completed = (await this.completedIds()).filter((id) => !abandoned.has(id));
    const keep = new Set(completed.slice(-retain));
    for (const id of completed) {
      if (!keep.has(id) && (await this.isSavepoint(id))) keep.add(id);
    }
    const newestKept = Math.max(...keep, Number.NEGATIVE_INFINITY);
    for (const id of await this.allIds()) {
      if (keep.has(id) || id > newestKept) continue;
      await this.storage.deletePrefix(`${checkpointFolder(id)}/`);
    }
    // Shared files no kept checkpoint refers to are garbage (nothing is in flight while pruning).
    const referenced = new Set<string>();
    for (const id of keep) for (const key of (await this.readMetadata(id)).sharedFiles) referenced.add(key);
    for (const key of await this.storage.list('shared/')) {
      if (!referenced.has(key)) await this.storage.deletePrefix(key);
    }
  }

  /** A metadata file that cannot be read counts as no savepoint: retention goes on as it always did. */
  private async isSavepoint(checkpointId: number): Promise<boolean> {
    return this.readMetadata(checkpointId).then(
      (metadata) => metadata.savepoint,
      () => false,
    );
  }
}

export function parseCheckpointId(text: string): number {
  const match = /^(?:chk-)?(\d+)$/.exec(text.trim());
  if (!match) throw new CoattailError('BAD_ARGUMENT', `"${text}" is not a checkpoint id: use latest, chk-N or N`);
  return Number(match[1]);
}

/**
 * `--restore` may also name a checkpoint folder or its `_metadata` on disk; then the storage is that
 * folder's parent. Returns the storage location and which checkpoint to load.
 */
export function resolveRestoreTarget(restore: string, checkpointDir: string): { location: string; which: string } {
  if (restore === 'latest' || /^(chk-)?\d+$/.test(restore)) return { location: checkpointDir, which: restore };
  const path = resolve(restore);
  const folder = existsSync(path) && statSync(path).isFile() ? dirname(path) : path;
  const id = /^chk-(\d+)$/.exec(basename(folder))?.[1];
  if (!id) throw new CoattailError('BAD_ARGUMENT', `--restore ${restore}: expected latest, chk-N, N or a path to a chk-N folder`);
  if (!existsSync(folder)) throw new CoattailError('CHECKPOINT_NOT_FOUND', `--restore ${restore}: no such checkpoint folder`);
  return { location: dirname(folder), which: id };
}

export function openCheckpointStore(location: string, s3Endpoint?: string): CheckpointStore {
  return new CheckpointStore(openCheckpointStorage(location, s3Endpoint ? { s3Endpoint } : {}));
}
