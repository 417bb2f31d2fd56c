// Typed description of an output table, enough to write both JSON Lines and Parquet.

export type ColumnType = 'string' | 'double' | 'int64' | 'timestamp' | 'boolean' | 'json';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable?: boolean;
}

export interface TableSchema {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  /** A `timestamp` column whose UTC date names the Hive partition `date=YYYY-MM-DD` (Parquet only). */
  readonly partitionBy?: string;
}

/**
 * Row values as the engine holds them: timestamps are epoch milliseconds (numbers),
 * `json` columns are already JSON text, null is allowed where `nullable`.
 */
export type TableRow = Record<string, string | number | boolean | null>;
