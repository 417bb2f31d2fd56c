// JSON Lines files, plain or gzip, read in chunks of whole lines with byte offsets; one split per file.

import { createReadStream, existsSync, statSync, readdirSync, type ReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Source, SourceChunk, SplitDescriptor, SplitPosition, SplitReader } from '../../runtime/api/source.js';
import { CoattailError } from '../../runtime/errors.js';

const CHUNK_BYTES = 1 << 20;
/** Room in a pooled buffer for the partial line carried over from the previous chunk. */
const CARRY_SLACK_BYTES = 64 << 10;
/** More than the chunks that can be in flight at once (decode threads x 2 + 2). */
const POOLED_BUFFERS = 16;

/**
 * Chunk buffers handed back by the engine once decoded, to read into again: reading into a fresh 1 MiB buffer
 * per chunk measured ~7x the CPU of reusing one (the kernel faults in and zeroes every new page).
 */
class ChunkBufferPool {
  private readonly spare: ArrayBuffer[] = [];
  private readonly capacity: number;

  constructor(chunkBytes: number) {
    this.capacity = chunkBytes + CARRY_SLACK_BYTES;
  }

  /** A view of `size` bytes; its contents are whatever an earlier chunk left there. */
  take(size: number): Uint8Array {
    // Larger (a line longer than a chunk): its own buffer, not zeroed, since the read overwrites it.
    if (size > this.capacity) return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
    return new Uint8Array(this.spare.pop() ?? new ArrayBuffer(this.capacity), 0, size);
  }

  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength === this.capacity && this.spare.length < POOLED_BUFFERS) this.spare.push(buffer);
  }
}

export interface FileSourceOptions {
  readonly chunkBytes?: number;
}

/**
 * `path` may be a file or a folder of `*.jsonl` / `*.jsonl.gz` / `*.json` files (read in name order, without names
 * starting with `.` or `_`). A file that cannot seek (a named pipe, `/dev/stdin` on a pipe) is read as a stream, as
 * gzip files are.
 */
export function fileSource(path: string, options: FileSourceOptions = {}): Source {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new CoattailError('FILE_NOT_FOUND', `input file not found: ${path}`);
  // In a folder, only regular files (or links to them) are input: a subfolder named `x.jsonl` is not read. Names
  // starting with `.` or `_` are skipped, as Flink's and Spark's file sources do (hidden files, `_summary.json`).
  const files = statSync(absolute).isDirectory()
    ? readdirSync(absolute)
        .filter((name) => /\.(jsonl|json|ndjson)(\.gz)?$/.test(name) && !/^[._]/.test(name))
        .sort()
        .map((name) => join(absolute, name))
        .filter((file) => statSync(file, { throwIfNoEntry: false })?.isFile() === true)
    : [absolute];
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const buffers = new ChunkBufferPool(chunkBytes);
  return {
    uri: `file:${absolute}`,
    bounded: true,
    async discoverSplits(): Promise<SplitDescriptor[]> {
      return files.map((file) => ({ splitId: basename(file), origin: `file:${file}` }));
    },
    async openSplit(split: SplitDescriptor, from: SplitPosition | undefined): Promise<SplitReader> {
      const file = files.find((f) => basename(f) === split.splitId);
      if (!file) throw new CoattailError('SOURCE_FAILED', `split ${split.splitId} is not part of ${absolute}`);
      const offset = typeof from === 'number' ? from : 0;
      if (file.endsWith('.gz')) return new StreamLineReader(file, offset, chunkBytes, 'gzip');
      if (statSync(file).isFile()) return await PlainLineReader.open(file, offset, chunkBytes, buffers);
      return new StreamLineReader(file, offset, chunkBytes, 'plain');
    },
  };
}

/**
 * A restored split whose file now ends before the checkpoint's offset was truncated or replaced since the checkpoint:
 * reading on from there would silently end the split (the rows of the records before the offset are already in the
 * tables), so the restore fails instead.
 */
function shorterThanCheckpoint(file: string, size: number, offset: number): CoattailError {
  return new CoattailError(
    'SOURCE_FAILED',
    `input ${file} has ${size} bytes, fewer than the ${offset} the checkpoint had already read: it was truncated or replaced since the checkpoint; restore with the input the checkpoint read`,
  );
}

/**
 * Cuts a byte stream into chunks that end on a newline, carrying the remainder into the next chunk. The carried
 * bytes hold no newline, so only new bytes are searched, and a line longer than a chunk is joined once, when its
 * newline arrives: joining and searching it again at every chunk made a 40 MB line take seconds.
 */
class LineFramer {
  private carry: Buffer = Buffer.alloc(0);
  /** Stream data after `carry` that holds no newline yet (`push` only). */
  private pieces: Buffer[] = [];
  /** Byte offset (in the uncompressed split) of the first carried byte. */
  constructor(public offset: number) {}

  /** Whole lines from `carry + data`, or undefined when no newline arrived yet (a line longer than a chunk). */
  push(data: Buffer): SourceChunk | undefined {
    const lastNewline = data.lastIndexOf(10);
    if (lastNewline < 0) {
      this.pieces.push(data);
      return undefined;
    }
    // Copied into an ArrayBuffer of its own so it can be transferred to a decode thread.
    const bytes = joined([this.carry, ...this.pieces, data.subarray(0, lastNewline + 1)]);
    this.pieces = [];
    this.carry = Buffer.from(data.subarray(lastNewline + 1));
    return this.chunkOf(bytes);
  }

  private chunkOf(bytes: Uint8Array): SourceChunk {
    const chunk: SourceChunk = { payload: { kind: 'lines', bytes, firstOffset: this.offset }, endPosition: this.offset + bytes.length };
    this.offset += bytes.length;
    return chunk;
  }

  /** Bytes carried over from the last chunk (a partial line), to be placed before the next read. */
  get carried(): Uint8Array {
    return this.carry;
  }

  /**
   * Whole lines from a buffer this framer may keep: it already starts with `carried`, then `total` bytes in all.
   * The chunk is a view of it (transferred without another copy); only the partial last line is copied.
   */
  frameOwned(buffer: Uint8Array, total: number): SourceChunk | undefined {
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, total);
    const searchFrom = this.carry.length;
    const newlineInNew = view.subarray(searchFrom).lastIndexOf(10);
    if (newlineInNew < 0) {
      this.carry = view;
      return undefined;
    }
    const lastNewline = searchFrom + newlineInNew;
    const bytes = buffer.subarray(0, lastNewline + 1);
    this.carry = Buffer.from(view.subarray(lastNewline + 1));
    return this.chunkOf(bytes);
  }

  /** The last line of a file without a trailing newline. */
  end(): SourceChunk | undefined {
    const bytes = joined([this.carry, ...this.pieces]);
    this.carry = Buffer.alloc(0);
    this.pieces = [];
    return bytes.length === 0 ? undefined : this.chunkOf(bytes);
  }
}

/** The bytes of `parts` one after another, in an ArrayBuffer of their own. */
function joined(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

class PlainLineReader implements SplitReader {
  private position: number;
  private readonly framer: LineFramer;
  private done = false;

  private constructor(
    private readonly handle: FileHandle,
    offset: number,
    private readonly chunkBytes: number,
    private readonly buffers: ChunkBufferPool,
  ) {
    this.position = offset;
    this.framer = new LineFramer(offset);
  }

  static async open(file: string, offset: number, chunkBytes: number, buffers: ChunkBufferPool): Promise<PlainLineReader> {
    let handle: FileHandle | undefined;
    let size: number;
    try {
      handle = await open(file, 'r');
      size = (await handle.stat()).size;
    } catch (error) {
      await handle?.close().catch(() => undefined); // opened, but stat failed: the descriptor must not leak
      throw new CoattailError('SOURCE_FAILED', `cannot read input ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (offset > size) {
      await handle.close();
      throw shorterThanCheckpoint(file, size, offset);
    }
    return new PlainLineReader(handle, offset, chunkBytes, buffers);
  }

  async next(): Promise<SourceChunk | undefined> {
    while (!this.done) {
      // Read straight into the buffer that will be transferred, after the carried partial line.
      const carried = this.framer.carried;
      // Within a line longer than a chunk, read as much again as is carried: the line is copied O(log n) times.
      const readBytes = Math.max(this.chunkBytes, carried.length);
      const buffer = this.buffers.take(carried.length + readBytes);
      buffer.set(carried);
      const { bytesRead } = await this.handle.read(buffer, carried.length, readBytes, this.position);
      if (bytesRead === 0) {
        this.done = true;
        return this.framer.end();
      }
      this.position += bytesRead;
      const chunk = this.framer.frameOwned(buffer, carried.length + bytesRead);
      if (chunk) return chunk;
    }
    return undefined;
  }

  recycle(bytes: Uint8Array): void {
    this.buffers.give(bytes);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * A file read front to back as a stream: gzip (offsets count uncompressed bytes) or a plain file that cannot seek.
 * Resuming from an offset reads (and decompresses) the bytes before it again.
 */
class StreamLineReader implements SplitReader {
  private readonly bytes: ReadStream;
  private readonly iterator: AsyncIterator<Buffer>;
  private readonly framer: LineFramer;
  private skip: number;
  private done = false;

  constructor(
    private readonly file: string,
    offset: number,
    chunkBytes: number,
    private readonly encoding: 'gzip' | 'plain',
  ) {
    const bytes = (this.bytes = createReadStream(file, { highWaterMark: chunkBytes }));
    // zlib refuses chunks under 64 bytes.
    const stream = encoding === 'gzip' ? bytes.pipe(createGunzip({ chunkSize: Math.max(64, chunkBytes) })) : bytes;
    if (encoding === 'gzip') bytes.once('error', (error) => stream.destroy(error));
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.skip = offset;
    this.framer = new LineFramer(offset);
  }

  async next(): Promise<SourceChunk | undefined> {
    while (!this.done) {
      let step: IteratorResult<Buffer>;
      try {
        step = await this.iterator.next();
      } catch (error) {
        // A file system error (it has a syscall) is a read failure; anything else from zlib is bad gzip data.
        const what = this.encoding === 'gzip' && (error as NodeJS.ErrnoException).syscall === undefined ? 'decompress' : 'read';
        throw new CoattailError('SOURCE_FAILED', `cannot ${what} input ${this.file}: ${(error as Error).message}`, { cause: error });
      }
      if (step.done) {
        this.done = true;
        if (this.skip > 0) throw shorterThanCheckpoint(this.file, this.framer.offset - this.skip, this.framer.offset);
        return this.framer.end();
      }
      let data = step.value;
      if (this.skip > 0) {
        const skipped = Math.min(this.skip, data.length);
        this.skip -= skipped;
        data = data.subarray(skipped);
        if (data.length === 0) continue;
      }
      const chunk = this.framer.push(data);
      if (chunk) return chunk;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
    // pipe() passes no destroy upstream: a gzip split closed before its end kept its file open.
    this.bytes.destroy();
  }
}
