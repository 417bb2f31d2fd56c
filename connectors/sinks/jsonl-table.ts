// JSON Lines table writer: one row a line in schema column order, text flushed in large chunks to rolling parts.
import type { PendingCommit, SinkContext, SinkWriter } from '../../runtime/api/sink.js';
import type { TableRow, TableSchema } from '../../runtime/api/table.js';
import { CoattailError } from '../../runtime/errors.js';
import { badTimestamp, badValue, isInt64, isTimestamp, nullInRequiredColumn } from './column-values.js';
import { PartFileCommitter, type PartFile, type PartStorage } from './file-commit.js';

export interface JsonlLimits {
  /** A part is closed and a new one started once it holds this many bytes. */
  readonly maxPartBytes?: number;
  /** Encoded lines are kept in memory up to this many bytes, then appended in one write. */
  readonly flushBytes?: number;
}

const DEFAULT_MAX_PART_BYTES = 128 * 1024 * 1024;
const DEFAULT_FLUSH_BYTES = 1024 * 1024;

const KIND_TIMESTAMP = 0;
const KIND_TEXT = 1;
const KIND_DOUBLE = 2;
const KIND_INT64 = 3;
const KIND_BOOLEAN = 4;
const MILLISECONDS_PER_DAY = 86_400_000;
const NULL_BYTES = Buffer.from('null');
const QUOTE = 0x22;
const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;

const KIND_OF = { timestamp: KIND_TIMESTAMP, string: KIND_TEXT, json: KIND_TEXT, double: KIND_DOUBLE, int64: KIND_INT64, boolean: KIND_BOOLEAN } as const;

/**
 * Encodes rows as JSON lines straight into one growing byte buffer. Writing bytes instead of
 * concatenating strings avoids retaining rope strings (heavy on the garbage collector), and
 * timestamps reuse the `YYYY-MM-DDT` text of their day instead of a Date per value.
 */
export class JsonlEncoder {
  private readonly names: string[];
  private readonly prefixes: Buffer[];
  private readonly nullable: boolean[];
  private readonly kinds: number[];
  private buffer: Buffer;
  private position = 0;
  private cachedDay = Number.NaN;
  private cachedDate: Buffer = Buffer.alloc(0);

  constructor(
    private readonly schema: TableSchema,
    private readonly initialBytes = 64 * 1024,
  ) {
    this.names = schema.columns.map((column) => column.name);
    // Pre-encoded `{"name":` / `,"name":` fragments: per row only values need formatting.
    this.prefixes = this.names.map((name, index) => Buffer.from(`${index === 0 ? '{' : ','}${JSON.stringify(name)}:`));
    this.nullable = schema.columns.map((column) => column.nullable === true);
    this.kinds = schema.columns.map((column) => KIND_OF[column.type]);
    this.buffer = Buffer.allocUnsafeSlow(initialBytes);
  }

  get byteLength(): number {
    return this.position;
  }

  /** Append rows, one line each; on a bad value nothing of the batch stays and the error is thrown. */
  encode(rows: readonly TableRow[]): void {
    const batchStart = this.position;
    try {
      for (let index = 0; index < rows.length; index++) this.encodeRow(rows[index]!);
    } catch (error) {
      this.position = batchStart;
      throw error;
    }
  }

  /** The encoded bytes so far; the encoder starts over with a fresh buffer. */
  take(): Buffer {
    const bytes = this.buffer.subarray(0, this.position);
    this.buffer = Buffer.allocUnsafeSlow(this.initialBytes);
    this.position = 0;
    return bytes;
  }

  private encodeRow(row: TableRow): void {
    const { names, prefixes, kinds } = this;
    for (let column = 0; column < names.length; column++) {
      const value = row[names[column]!];
      const prefix = prefixes[column]!;
      this.ensure(prefix.length + 48);
      this.copy(prefix);
      if (value === null || value === undefined) {
        if (!this.nullable[column]) throw nullInRequiredColumn(this.schema.name, names[column]!);
        this.copy(NULL_BYTES);
      } else if (kinds[column] === KIND_TIMESTAMP) {
        if (!isTimestamp(value)) throw badTimestamp(this.schema.name, names[column]!, value);
        this.writeTimestamp(value);
      } else if (kinds[column] === KIND_TEXT) {
        this.writeUtf8(JSON.stringify(typeof value === 'string' ? value : String(value)));
      } else if (kinds[column] === KIND_DOUBLE) {
        if (typeof value !== 'number') throw badValue(this.schema.name, this.schema.columns[column]!, value);
        this.writeUtf8(Number.isFinite(value) ? String(value) : 'null');
      } else if (kinds[column] === KIND_INT64) {
        if (!isInt64(value)) throw badValue(this.schema.name, this.schema.columns[column]!, value);
        // Beyond 2^53 String() gives the shortest text of the double (9223372036854775000), which a reader
        // taking the column as a 64-bit integer reads as another number than Parquet holds: write every digit.
        this.writeUtf8(Number.isSafeInteger(value) ? String(value) : BigInt(value).toString());
      } else {
        if (typeof value !== 'boolean') throw badValue(this.schema.name, this.schema.columns[column]!, value);
        this.writeUtf8(value ? 'true' : 'false');
      }
    }
    this.ensure(2);
    this.buffer[this.position++] = 0x7d; // }
    this.buffer[this.position++] = 0x0a; // newline
  }

  /** `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, exactly as `new Date(value).toISOString()` writes it. */
  private writeTimestamp(value: number): void {
    const milliseconds = Math.trunc(value); // as Date does with a fractional time value
    const day = Math.floor(milliseconds / MILLISECONDS_PER_DAY);
    if (day !== this.cachedDay) {
      this.cachedDay = day;
      // Everything before `HH:MM:SS.mmmZ` (13 characters), including extended years such as `+275760`.
      this.cachedDate = Buffer.from(new Date(day * MILLISECONDS_PER_DAY).toISOString().slice(0, -13), 'latin1');
    }
    let rest = milliseconds - day * MILLISECONDS_PER_DAY;
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = Math.floor(rest / 1000);
    rest -= seconds * 1000;
    const buffer = this.buffer;
    buffer[this.position++] = QUOTE;
    this.copy(this.cachedDate);
    this.writeTwoDigits(hours);
    buffer[this.position++] = COLON;
    this.writeTwoDigits(minutes);
    buffer[this.position++] = COLON;
    this.writeTwoDigits(seconds);
    buffer[this.position++] = DOT;
    buffer[this.position++] = ZERO + Math.floor(rest / 100);
    this.writeTwoDigits(rest % 100);
    buffer[this.position++] = 0x5a; // Z
    buffer[this.position++] = QUOTE;
  }

  private writeTwoDigits(value: number): void {
    this.buffer[this.position++] = ZERO + Math.floor(value / 10);
    this.buffer[this.position++] = ZERO + (value % 10);
  }

  private writeUtf8(text: string): void {
    this.ensure(text.length * 3); // a UTF-16 unit never takes more than 3 bytes
    this.position += this.buffer.write(text, this.position, 'utf8');
  }

  /** Short fragments: a byte loop beats a native copy call. */
  private copy(bytes: Buffer): void {
    const buffer = this.buffer;
    let position = this.position;
    for (let index = 0; index < bytes.length; index++) buffer[position++] = bytes[index]!;
    this.position = position;
  }

  private ensure(extra: number): void {
    if (this.position + extra <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.position + extra));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}

export class JsonlTableWriter implements SinkWriter<TableRow> {
  private readonly encoder: JsonlEncoder;
  private readonly files: PartFileCommitter;
  private readonly maxPartBytes: number;
  private readonly flushBytes: number;
  private bufferedRows = 0;
  private current: PartFile | undefined;
  private finished = false;

  constructor(schema: TableSchema, context: SinkContext, storage: PartStorage, limits: JsonlLimits = {}) {
    this.flushBytes = limits.flushBytes ?? DEFAULT_FLUSH_BYTES;
    this.encoder = new JsonlEncoder(schema, Math.min(this.flushBytes + 4096, DEFAULT_FLUSH_BYTES * 2));
    this.files = new PartFileCommitter(storage, {
      table: schema.name,
      subtaskIndex: context.subtaskIndex,
      attemptId: context.attemptId,
      extension: 'jsonl',
    });
    this.maxPartBytes = limits.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  }

  write(records: readonly TableRow[]): void | Promise<void> {
    if (this.finished) throw new CoattailError('SINK_FAILED', 'A table writer received rows after it finished');
    this.encoder.encode(records);
    this.bufferedRows += records.length;
    if (this.encoder.byteLength >= this.flushBytes) return this.flush();
  }

  async prepareCommit(checkpointId: number): Promise<PendingCommit> {
    await this.flush();
    this.current = undefined;
    return this.files.prepareCommit(checkpointId);
  }

  commit(pending: PendingCommit): Promise<void> {
    return this.files.commit(pending);
  }

  async finish(): Promise<number> {
    await this.flush();
    this.current = undefined;
    this.finished = true;
    return this.files.commitAll(Number.MAX_SAFE_INTEGER);
  }

  abort(): Promise<void> {
    this.encoder.take();
    this.bufferedRows = 0;
    this.current = undefined;
    this.finished = true;
    return this.files.abort();
  }

  /** Append the buffered text to the current part, rolling to a new part when it is full. */
  private flush(): Promise<void> {
    if (this.bufferedRows === 0) return Promise.resolve();
    const bytes = this.encoder.take();
    const rows = this.bufferedRows;
    this.bufferedRows = 0;
    if (this.current !== undefined && this.current.bytes + bytes.byteLength > this.maxPartBytes) this.current = undefined;
    this.current ??= this.files.startPart('');
    return this.files.append(this.current, bytes, rows);
  }
}
