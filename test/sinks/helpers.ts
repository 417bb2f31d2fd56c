// Shared fixtures for the sink tests: a temporary output folder, a schema covering every column type, rows.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { SinkContext } from '../../runtime/api/sink.js';
import type { TableRow, TableSchema } from '../../runtime/api/table.js';

export const tradesSchema: TableSchema = {
  name: 'whale_trades',
  columns: [
    { name: 'event_id', type: 'string' },
    { name: 'price', type: 'double' },
    { name: 'trade_count', type: 'int64' },
    { name: 'timestamp', type: 'timestamp' },
    { name: 'is_buy', type: 'boolean', nullable: true },
    { name: 'details', type: 'json', nullable: true },
    { name: 'note', type: 'string', nullable: true },
    { name: 'received_at', type: 'timestamp', nullable: true },
  ],
  partitionBy: 'timestamp',
};

/** 2024-03-01T00:00:00Z */
export const DAY_ONE = Date.UTC(2024, 2, 1);
const HOUR = 3_600_000;

/** Rows spread over three UTC days, with nulls, quotes, newlines and non-ASCII text. */
export function tradeRows(count: number, offset = 0): TableRow[] {
  const rows: TableRow[] = [];
  for (let index = offset; index < offset + count; index++) {
    rows.push({
      event_id: `evt-${index}`,
      price: 100 + index / 8,
      trade_count: index * 1_000_003,
      timestamp: DAY_ONE + ((index * 7 * HOUR) % (3 * 24 * HOUR)) + (index % 1000),
      is_buy: index % 3 === 0 ? null : index % 3 === 1,
      details: index % 4 === 0 ? null : JSON.stringify({ index, side: 'buy', nested: { ok: true } }),
      note: index % 5 === 0 ? null : `note "${index}"\nline two, café ₿ 🐋`,
      received_at: index % 2 === 0 ? null : DAY_ONE + index * 1000,
    });
  }
  return rows;
}

/** What a row looks like in a JSON Lines file: ISO timestamps, everything else unchanged. */
export function expectedJsonRow(row: TableRow): Record<string, unknown> {
  const iso = (value: unknown) => (typeof value === 'number' ? new Date(value).toISOString() : value);
  return { ...row, timestamp: iso(row.timestamp), received_at: iso(row.received_at) };
}

export async function temporaryFolder(): Promise<{ folder: string; cleanup: () => Promise<void> }> {
  const folder = await mkdtemp(path.join(tmpdir(), 'coattail-sinks-'));
  return { folder, cleanup: () => rm(folder, { recursive: true, force: true }) };
}

export function sinkContext(outDir: string, format: 'jsonl' | 'parquet', overrides: Partial<SinkContext> = {}): SinkContext {
  return { subtaskIndex: 0, parallelism: 1, attemptId: 'a1', outDir, format, ...overrides };
}

/** Every file under a folder, relative to it, sorted; [] when the folder does not exist. */
export async function listFiles(folder: string): Promise<string[]> {
  try {
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
      .sort();
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw error;
  }
}

export function isHidden(relativePath: string): boolean {
  return path.basename(relativePath).startsWith('.');
}
