// The table sink: validates a table schema once, then writes it as JSON Lines or Parquet under `<out>/<table>/` (local or S3).
import type { SinkContext, SinkFactory, SinkWriter } from '../../runtime/api/sink.js';
import type { ColumnType, TableRow, TableSchema } from '../../runtime/api/table.js';
import { CoattailError } from '../../runtime/errors.js';
import { asTablePending, commitPending, discardUncommitted, partStorageFor } from './file-commit.js';
import { JsonlTableWriter, type JsonlLimits } from './jsonl-table.js';
import type { ParquetLimits, ParquetShared } from './parquet-table.js';

export interface TableSinkOptions {
  readonly jsonl?: JsonlLimits;
  readonly parquet?: ParquetLimits;
}

const COLUMN_TYPES: ReadonlySet<ColumnType> = new Set(['string', 'double', 'int64', 'timestamp', 'boolean', 'json']);
/** Folder names that Spark, Hive and Athena do not skip (they ignore names starting with `.` or `_`). */
const TABLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function invalid(schema: TableSchema, problem: string): CoattailError {
  return new CoattailError('JOB_INVALID', `Table ${JSON.stringify(schema.name)}: ${problem}`);
}

export function validateTableSchema(schema: TableSchema): void {
  if (!TABLE_NAME.test(schema.name)) {
    throw invalid(schema, 'the name must start with a letter or digit and hold only letters, digits, _, . and -');
  }
  if (schema.columns.length === 0) throw invalid(schema, 'a table needs at least one column');
  const seen = new Set<string>();
  for (const column of schema.columns) {
    if (column.name === '') throw invalid(schema, 'a column has an empty name');
    if (seen.has(column.name)) throw invalid(schema, `the column ${column.name} appears twice`);
    if (!COLUMN_TYPES.has(column.type)) throw invalid(schema, `the column ${column.name} has unknown type ${String(column.type)}`);
    seen.add(column.name);
  }
  if (schema.partitionBy !== undefined) {
    const partitionColumn = schema.columns.find((column) => column.name === schema.partitionBy);
    if (partitionColumn?.type !== 'timestamp') {
      throw invalid(schema, `partitionBy must name a timestamp column, and ${schema.partitionBy} is not one`);
    }
    // Readers add the `date=` folder as a column: DuckDB's would silently replace this one, Spark and Athena refuse both.
    const shadowed = schema.columns.find((column) => column.name.toLowerCase() === 'date');
    if (shadowed) throw invalid(schema, `the column ${shadowed.name} clashes with the date= partition readers add; rename it`);
  }
}

/**
 * Writes rows of `schema` in the run's format with a two-phase commit, under a local folder or an
 * `s3://bucket/prefix`. The table folder is created when a writer opens, so an empty table leaves an
 * empty folder and no files; S3 has no folders, so there opening checks the bucket instead.
 */
/**
 * A row type whose fields all hold table values. Written as a mapped type so that a job's own `interface`
 * rows fit too: an interface has no index signature, so it is not assignable to `TableRow` itself.
 */
export type TableRowOf<Row> = { readonly [K in keyof Row]: string | number | boolean | null };

/** The row type is inferred from the stream it is sunk from (`TableRow` when there is none to infer from). */
export function tableSink<Row extends TableRowOf<Row> = TableRow>(schema: TableSchema, options: TableSinkOptions = {}): SinkFactory<Row> {
  // The writers read rows by column name only, which any Row allows.
  return anyTableSink(schema, options) as unknown as SinkFactory<Row>;
}

function anyTableSink(schema: TableSchema, options: TableSinkOptions): SinkFactory<TableRow> {
  validateTableSchema(schema);
  return {
    name: schema.name,
    async initializeGlobal(context): Promise<ParquetShared | undefined> {
      if (context.format !== 'parquet') return undefined;
      // Compiled once here, instead of once in every subtask that writes Parquet (~150 ms of CPU each).
      const { compileParquetEncoder } = await import('./parquet-wasm.js');
      return { parquetEncoder: await compileParquetEncoder() };
    },
    async create(context: SinkContext): Promise<SinkWriter<TableRow>> {
      const storage = partStorageFor(context.outDir);
      await storage.makeFolder(schema.name);
      if (context.format === 'jsonl') return new JsonlTableWriter(schema, context, storage, options.jsonl);
      if (context.format === 'parquet') {
        // Loaded on demand: the Parquet writer and its WebAssembly encoder are not needed by JSON Lines runs.
        const { ParquetTableWriter } = await import('./parquet-table.js');
        return new ParquetTableWriter(schema, context, storage, options.parquet);
      }
      throw new CoattailError('BAD_ARGUMENT', `Unknown output format ${String(context.format)}; use parquet or jsonl`);
    },
    async recover(context, pending, revoked = []): Promise<void> {
      const storage = partStorageFor(context.outDir);
      // Parts the restored checkpoint itself lists stay: they are committed below.
      const kept = new Set(pending.flatMap((one) => (asTablePending(one)?.files ?? []).map((file) => file.hidden)));
      for (const one of revoked) {
        for (const file of (asTablePending(one)?.files ?? []).filter((candidate) => !kept.has(candidate.hidden))) {
          await storage.remove(file.final);
          await storage.remove(file.hidden);
        }
      }
      for (const one of pending) await commitPending(storage, one);
      await discardUncommitted(context.outDir, [schema.name], [...pending], context.ownAttempts);
    },
  };
}
