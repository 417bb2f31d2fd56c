// The two-phase file commit shared by the table writers: hidden part files, pending lists, idempotent renames.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { PendingCommit } from '../../runtime/api/sink.js';
import { CoattailError } from '../../runtime/errors.js';
import { makeDirectory } from '../../runtime/make-directory.js';
import { deferred } from '../../runtime/deferred.js';

/**
 * The few storage operations the protocol needs, on paths relative to the output root with `/`
 * separators: a local folder, or an S3 prefix where parts are multipart uploads completed on rename.
 */
export interface PartStorage {
  /** Create or replace a file (and its folders) with these bytes. */
  write(relativePath: string, bytes: Uint8Array): Promise<void>;
  /** Append bytes to a file that `write` created. */
  append(relativePath: string, bytes: Uint8Array): Promise<void>;
  /**
   * No more appends follow: make the file durable so a restore in another process can still rename it.
   * Local files need nothing; S3 uploads the bytes it gathered and records the pending upload.
   */
  seal?(relativePath: string): Promise<void>;
  /** Move a file to its final name; false when the source does not exist. */
  rename(fromPath: string, toPath: string): Promise<boolean>;
  exists(relativePath: string): Promise<boolean>;
  /** Every file below a folder, recursively, relative to the root; empty when the folder is absent. */
  list(relativeFolder: string): Promise<string[]>;
  /** Delete a file; a file that is already gone is fine. */
  remove(relativePath: string): Promise<void>;
  makeFolder(relativeFolder: string): Promise<void>;
}

function storageError(action: string, target: string, error: unknown): CoattailError {
  const reason = error instanceof Error ? error.message : String(error);
  return new CoattailError('SINK_FAILED', `Could not ${action} ${target}: ${reason}`, { cause: error });
}

function hasCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}

/** Part storage in a local folder. Folders already created are remembered so appends cost no extra syscalls. */
export function localPartStorage(root: string): PartStorage {
  const createdFolders = new Set<string>();
  const absolute = (relativePath: string): string => path.join(root, relativePath);
  const ensureFolder = async (folder: string): Promise<void> => {
    if (createdFolders.has(folder)) return;
    await makeDirectory(folder);
    createdFolders.add(folder);
  };
  return {
    async write(relativePath, bytes) {
      const target = absolute(relativePath);
      try {
        await ensureFolder(path.dirname(target));
        await fs.writeFile(target, bytes);
      } catch (error) {
        throw storageError('write', target, error);
      }
    },
    async append(relativePath, bytes) {
      try {
        await fs.appendFile(absolute(relativePath), bytes);
      } catch (error) {
        throw storageError('write', absolute(relativePath), error);
      }
    },
    async rename(fromPath, toPath) {
      try {
        await fs.rename(absolute(fromPath), absolute(toPath));
        return true;
      } catch (error) {
        if (hasCode(error, 'ENOENT')) return false;
        throw storageError('rename', absolute(fromPath), error);
      }
    },
    async exists(relativePath) {
      try {
        await fs.access(absolute(relativePath));
        return true;
      } catch {
        return false;
      }
    },
    async list(relativeFolder) {
      const found: string[] = [];
      const walk = async (folder: string): Promise<void> => {
        let entries;
        try {
          entries = await fs.readdir(absolute(folder), { withFileTypes: true });
        } catch (error) {
          if (hasCode(error, 'ENOENT')) return;
          throw storageError('list', absolute(folder), error);
        }
        for (const entry of entries) {
          const child = `${folder}/${entry.name}`;
          if (entry.isDirectory()) await walk(child);
          else found.push(child);
        }
      };
      await walk(relativeFolder);
      return found.sort();
    },
    async remove(relativePath) {
      try {
        await fs.rm(absolute(relativePath), { force: true });
      } catch (error) {
        throw storageError('delete', absolute(relativePath), error);
      }
    },
    async makeFolder(relativeFolder) {
      try {
        await ensureFolder(absolute(relativeFolder));
      } catch (error) {
        throw storageError('create the folder', absolute(relativeFolder), error);
      }
    },
  };
}

/**
 * The storage behind an `--out` location: `s3://bucket/prefix` or a local folder. For S3 the endpoint comes
 * from `AWS_ENDPOINT_URL_S3` (which `--s3-endpoint` sets for the run), else `AWS_ENDPOINT_URL`, else AWS.
 */
export function partStorageFor(outDir: string): PartStorage {
  // The S3 SDK loads only for s3:// outputs.
  if (/^s3:\/\//i.test(outDir)) return deferred<PartStorage>(async () => (await import('./s3-part-storage.js')).s3PartStorage(outDir, { visiblePathOf }));
  return localPartStorage(outDir);
}

/** One part file: its hidden name while written or pending, its visible name once committed. */
export interface PartFile {
  readonly hidden: string;
  readonly final: string;
  rows: number;
  bytes: number;
}

/** What a checkpoint keeps for a table writer: the closed hidden parts to rename when it completes. */
export interface TablePendingCommit {
  readonly kind: 'coattail.table-files';
  readonly version: 1;
  readonly table: string;
  readonly checkpointId: number;
  readonly files: ReadonlyArray<{ readonly hidden: string; readonly final: string; readonly rows: number }>;
}

const PENDING_KIND = 'coattail.table-files';
const HIDDEN_PREFIX = '.part-';
const HIDDEN_SUFFIX = '.inprogress';

/** Hidden parts written by these sinks; other hidden files (e.g. `.DS_Store`) are never touched. */
export function isHiddenPart(relativePath: string): boolean {
  const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
  return name.startsWith(HIDDEN_PREFIX) && name.endsWith(HIDDEN_SUFFIX);
}

/** The name a hidden part is committed to (`t/.part-1.jsonl.inprogress` → `t/part-1.jsonl`); undefined for other files. */
export function visiblePathOf(relativePath: string): string | undefined {
  if (!isHiddenPart(relativePath)) return undefined;
  const slash = relativePath.lastIndexOf('/');
  return relativePath.slice(0, slash + 1) + relativePath.slice(slash + 2, -HIDDEN_SUFFIX.length);
}

/** Pendings of other sinks (null, other shapes) are not ours and yield undefined; a damaged one of ours throws. */
export function asTablePending(pending: PendingCommit): TablePendingCommit | undefined {
  if (typeof pending !== 'object' || pending === null) return undefined;
  const candidate = pending as Partial<TablePendingCommit>;
  if (candidate.kind !== PENDING_KIND) return undefined;
  const filesValid =
    Array.isArray(candidate.files) &&
    candidate.files.every((file) => typeof file?.hidden === 'string' && typeof file?.final === 'string');
  if (candidate.version !== 1 || !filesValid) {
    throw new CoattailError('CHECKPOINT_CORRUPT', `A pending commit of table ${String(candidate.table)} is damaged`);
  }
  return candidate as TablePendingCommit;
}

/** Renames in flight at once: a rename on S3 is two round trips, and parts are independent of each other. */
const COMMIT_CONCURRENCY = 8;

/** Make the parts of one pending commit visible; parts committed before (by anyone) are skipped. */
export async function commitPending(storage: PartStorage, pending: PendingCommit): Promise<void> {
  const parsed = asTablePending(pending);
  if (parsed === undefined) return;
  const commitOne = async (file: TablePendingCommit['files'][number]): Promise<void> => {
    if (await storage.rename(file.hidden, file.final)) return;
    if (!(await storage.exists(file.final))) {
      throw new CoattailError(
        'SINK_FAILED',
        `Cannot commit ${file.final} of table ${parsed.table}: neither the pending file nor the committed file exists (restore with -o set to the folder the checkpointed run wrote to)`,
      );
    }
  };
  for (let start = 0; start < parsed.files.length; start += COMMIT_CONCURRENCY) {
    await Promise.all(parsed.files.slice(start, start + COMMIT_CONCURRENCY).map(commitOne));
  }
}

/** The attempt id in a part's name (`.part-3-ab12cd34-00007.jsonl.inprogress` -> `ab12cd34`); undefined for other files. */
export function attemptOf(relativePath: string): string | undefined {
  const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
  return /^\.?part-\d+-([A-Za-z0-9_]+)-\d+\./.exec(name)?.[1];
}

/**
 * On restore: delete the hidden parts of these tables that no kept pending commit lists, i.e. parts
 * written after the restored checkpoint, by the attempts in `ownAttempts` only: another job writing into the
 * same folder keeps its parts in progress. Returns how many files were deleted.
 */
export async function discardUncommitted(outDir: string, tableNames: string[], keep: PendingCommit[], ownAttempts: ReadonlySet<string>): Promise<number> {
  const storage = partStorageFor(outDir);
  const kept = new Set<string>();
  for (const pending of keep) {
    for (const file of asTablePending(pending)?.files ?? []) kept.add(file.hidden);
  }
  let deleted = 0;
  for (const table of tableNames) {
    for (const file of await storage.list(table)) {
      if (!isHiddenPart(file) || kept.has(file) || !ownAttempts.has(attemptOf(file) ?? '')) continue;
      await storage.remove(file);
      deleted++;
    }
  }
  return deleted;
}

export interface PartNaming {
  readonly table: string;
  readonly subtaskIndex: number;
  readonly attemptId: string;
  /** File extension without the dot: `jsonl`, `parquet`. */
  readonly extension: string;
}

/**
 * The file side of one table writer: names parts, appends to them in order, and tracks each part
 * through open → closed → pending (listed in a prepared commit) → committed.
 */
export class PartFileCommitter {
  private sequence = 0;
  private rowsWritten = 0;
  /** Parts not yet in any prepared commit; deleted on abort. */
  private unprepared: PartFile[] = [];
  /** Parts in a prepared commit whose checkpoint has not completed yet, by hidden path. */
  private readonly outstanding = new Map<string, PartFile>();
  /** Storage operations run one after another so appends and renames never reorder. */
  private queue: Promise<void> = Promise.resolve();
  private readonly attempt: string;

  constructor(
    private readonly storage: PartStorage,
    private readonly naming: PartNaming,
  ) {
    // The attempt id lands in file names, so keep it to characters every file system and S3 accept.
    this.attempt = naming.attemptId.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  get totalRows(): number {
    return this.rowsWritten;
  }

  /** A new part in `partition` (`''` or `date=YYYY-MM-DD`); nothing is written until the first append. */
  startPart(partition: string): PartFile {
    const { table, subtaskIndex, extension } = this.naming;
    const base = `part-${subtaskIndex}-${this.attempt}-${String(this.sequence++).padStart(5, '0')}.${extension}`;
    const folder = partition === '' ? table : `${table}/${partition}`;
    const part: PartFile = { hidden: `${folder}/.${base}${HIDDEN_SUFFIX}`, final: `${folder}/${base}`, rows: 0, bytes: 0 };
    this.unprepared.push(part);
    return part;
  }

  /** Queue bytes holding `rows` rows for the end of a part; the promise settles once they are written. */
  append(part: PartFile, bytes: Uint8Array, rows: number): Promise<void> {
    // The first write replaces rather than appends, so a leftover file of the same name cannot leak into the part.
    const first = part.bytes === 0;
    part.rows += rows;
    part.bytes += bytes.byteLength;
    this.rowsWritten += rows;
    return this.enqueue(() => (first ? this.storage.write(part.hidden, bytes) : this.storage.append(part.hidden, bytes)));
  }

  /** Close every part written so far into a pending commit; the writer must start new parts afterwards. */
  async prepareCommit(checkpointId: number): Promise<TablePendingCommit> {
    await this.queue;
    const closing = this.unprepared;
    const written = closing.filter((part) => part.rows > 0);
    // Sealed before the pending commit exists, so a checkpoint never lists a part that is still in memory.
    // Until sealed the parts stay unprepared, so an abort after a failed seal still deletes them.
    await this.enqueue(() => this.seal(written));
    this.unprepared = this.unprepared.filter((part) => !closing.includes(part));
    for (const part of written) this.outstanding.set(part.hidden, part);
    return {
      kind: PENDING_KIND,
      version: 1,
      table: this.naming.table,
      checkpointId,
      files: written.map(({ hidden, final, rows }) => ({ hidden, final, rows })),
    };
  }

  async commit(pending: PendingCommit): Promise<void> {
    // Checked before queueing so a damaged pending is refused without poisoning the writer.
    const files = asTablePending(pending)?.files ?? [];
    await this.enqueue(() => commitPending(this.storage, pending));
    for (const file of files) this.outstanding.delete(file.hidden);
  }

  /** Prepare what is left and commit every outstanding part, including those of uncompleted checkpoints. */
  async commitAll(finalCheckpointId: number): Promise<number> {
    const last = await this.prepareCommit(finalCheckpointId);
    const files = [...this.outstanding.values()].map(({ hidden, final, rows }) => ({ hidden, final, rows }));
    await this.commit({ ...last, files });
    return this.rowsWritten;
  }

  /**
   * Delete parts no prepared commit lists. Prepared parts stay: their checkpoint may have completed
   * without this writer hearing of it, and a restore commits or discards them.
   */
  async abort(): Promise<void> {
    await this.queue.catch(() => undefined);
    const abandoned = this.unprepared;
    this.unprepared = [];
    for (const part of abandoned) await this.storage.remove(part.hidden);
  }

  private async seal(parts: PartFile[]): Promise<void> {
    const storage = this.storage;
    if (storage.seal === undefined) return;
    await Promise.all(parts.map((part) => storage.seal!(part.hidden)));
  }

  private enqueue(operation: () => Promise<void>): Promise<void> {
    const next = this.queue.then(operation);
    // A failed write poisons the queue on purpose: later parts must not pretend the table is whole.
    this.queue = next;
    return next;
  }
}
