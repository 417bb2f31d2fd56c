// Checkpoint storage in a local directory: atomic writes by temp file + fsync + rename.
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';

import { CoattailError } from '../../errors.js';
import { makeDirectory } from '../../make-directory.js';
import { checkKey, checkPrefix, sortKeys, TEMPORARY_FILE_PREFIX } from './keys.js';
import type { CheckpointStorage } from './storage.js';

const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);
/** Platforms where a directory cannot be opened or fsynced report these; the rename is still atomic there. */
const DIRECTORY_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'EACCES']);
/** A concurrent deletePrefix may remove an empty parent directory between our mkdir and our write. */
const PUT_ATTEMPTS = 3;

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? String(error) : String(error);
}

export class LocalCheckpointStorage implements CheckpointStorage {
  readonly location: string;

  constructor(directory: string) {
    if (directory.trim() === '') {
      throw new CoattailError('BAD_ARGUMENT', 'The checkpoint directory must not be empty');
    }
    this.location = path.resolve(directory);
  }

  private pathOf(key: string): string {
    return path.join(this.location, ...key.split('/'));
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkKey(key);
    const target = this.pathOf(key);
    const directory = path.dirname(target);
    for (let attempt = 1; ; attempt++) {
      try {
        await makeDirectory(directory);
        await this.writeAtomically(directory, target, bytes);
        return;
      } catch (error) {
        if (errorCode(error) === 'ENOENT' && attempt < PUT_ATTEMPTS) continue;
        throw new CoattailError('STORAGE', `Cannot write checkpoint object ${target}: ${reason(error)}`, {
          cause: error,
        });
      }
    }
  }

  private async writeAtomically(directory: string, target: string, bytes: Uint8Array): Promise<void> {
    const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const temporary = path.join(directory, `${TEMPORARY_FILE_PREFIX}${path.basename(target)}-${suffix}`);
    try {
      const handle = await open(temporary, 'wx');
      try {
        await handle.writeFile(bytes);
        // The data must be on disk before the rename makes it visible, or a crash could expose an empty file.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await syncDirectory(directory);
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    const file = this.pathOf(key);
    let contents: Buffer;
    try {
      contents = await readFile(file);
    } catch (error) {
      if (MISSING_CODES.has(errorCode(error) ?? '')) {
        throw new CoattailError('CHECKPOINT_NOT_FOUND', `Checkpoint object ${file} does not exist`, { cause: error });
      }
      throw new CoattailError('STORAGE', `Cannot read checkpoint object ${file}: ${reason(error)}`, { cause: error });
    }
    return new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength);
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const keys: string[] = [];
    await this.walk('', prefix, {
      onFile: (key) => {
        if (key.startsWith(prefix)) keys.push(key);
      },
      onMatchingDirectory: undefined,
    });
    return sortKeys(keys);
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix);
    try {
      await this.walk('', prefix, {
        onFile: async (key) => {
          if (key.startsWith(prefix)) await rm(this.pathOf(key), { force: true });
        },
        // A directory whose every key matches goes in one call, leftover temporary files included.
        onMatchingDirectory: async (relative) => {
          await rm(this.pathOf(relative.slice(0, -1)), { recursive: true, force: true });
        },
      });
    } catch (error) {
      if (error instanceof CoattailError) throw error;
      throw new CoattailError('STORAGE', `Cannot delete "${prefix}" in ${this.location}: ${reason(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Visit files under `relative` (a directory key ending in "/", or "" for the root), skipping temporary files
   * and directories that cannot hold a key starting with `prefix`. A directory all of whose keys match is handed
   * to `onMatchingDirectory` when given, otherwise walked like any other.
   */
  private async walk(relative: string, prefix: string, visitor: WalkVisitor): Promise<void> {
    let entries;
    try {
      entries = await readdir(path.join(this.location, ...relative.split('/')), { withFileTypes: true });
    } catch (error) {
      if (MISSING_CODES.has(errorCode(error) ?? '')) return;
      throw new CoattailError('STORAGE', `Cannot list ${this.location}/${relative}: ${reason(error)}`, {
        cause: error,
      });
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMPORARY_FILE_PREFIX)) continue;
      const key = relative + entry.name;
      if (entry.isFile()) {
        await visitor.onFile(key);
      } else if (entry.isDirectory()) {
        const directoryKey = `${key}/`;
        if (directoryKey.startsWith(prefix) && visitor.onMatchingDirectory) {
          await visitor.onMatchingDirectory(directoryKey);
        } else if (directoryKey.startsWith(prefix) || prefix.startsWith(directoryKey)) {
          await this.walk(directoryKey, prefix, visitor);
        }
      }
    }
  }
}

interface WalkVisitor {
  onFile(key: string): void | Promise<void>;
  onMatchingDirectory: ((directoryKey: string) => Promise<void>) | undefined;
}

/** Make a rename durable: fsync the directory that holds the new name. */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has(errorCode(error) ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}
