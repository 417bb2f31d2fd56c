// A typed table takes the same values in both formats: what one format refuses, the other refuses too, and what
// both write reads back as the same value (a user's tableSink, not only the detectors' tables).

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { TableRow, TableSchema } from '../../runtime/api/table.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import { isHidden, listFiles, sinkContext, temporaryFolder } from './helpers.js';

const schema: TableSchema = {
  name: 'values',
  columns: [
    { name: 'id', type: 'string' },
    { name: 'count', type: 'int64', nullable: true },
    { name: 'amount', type: 'double', nullable: true },
    { name: 'flag', type: 'boolean', nullable: true },
    { name: 'at', type: 'timestamp', nullable: true },
  ],
};

/** The largest double below 2^63, and -2^63: the ends of the int64 range a double can hold. */
const INT64_TOP = 2 ** 63 - 1024;
const INT64_BOTTOM = -(2 ** 63);

let folder: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ folder, cleanup } = await temporaryFolder()));
afterEach(() => cleanup());

type Format = 'jsonl' | 'parquet';

/** Writes the rows as one batch and finishes; resolves to the error the writer gave, if any. */
async function writeRows(format: Format, rows: TableRow[]): Promise<Error | undefined> {
  const writer = await tableSink(schema).create(sinkContext(path.join(folder, format), format));
  try {
    await writer.write(rows);
    await writer.finish();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** The committed rows in the JSON Lines terms: timestamps as ISO text, int64 as exact decimal text. */
async function readRows(format: Format): Promise<Record<string, unknown>[]> {
  const table = path.join(folder, format, schema.name);
  const rows: Record<string, unknown>[] = [];
  for (const file of await listFiles(table)) {
    if (isHidden(file)) continue;
    if (format === 'jsonl') {
      const text = await readFile(path.join(table, file), 'utf8');
      // int64 read as text, so values beyond 2^53 are compared exactly.
      for (const line of text.trimEnd().split('\n')) rows.push(JSON.parse(line.replace(/"count":(-?\d+)/, '"count":"$1"')));
    } else {
      for (const row of (await parquetReadObjects({ file: await asyncBufferFromFile(path.join(table, file)) })) as Record<string, unknown>[]) {
        rows.push({ ...row, count: typeof row.count === 'bigint' ? String(row.count) : row.count, at: row.at instanceof Date ? row.at.toISOString() : row.at });
      }
    }
  }
  return rows;
}

const row = (values: Partial<TableRow>): TableRow => ({ id: 'r', count: null, amount: null, flag: null, at: null, ...values });

describe('typed table columns', () => {
  it.each<[string, Partial<TableRow>, RegExp]>([
    ['an int64 beyond 2^63', { count: 1e20 }, /column count is int64 but a row holds 100000000000000000000/],
    ['an int64 below -2^63', { count: -1e19 }, /column count is int64 but a row holds -10000000000000000000/],
    ['an int64 of exactly 2^63', { count: 2 ** 63 }, /column count is int64/],
    ['a fractional int64', { count: 1.5 }, /column count is int64 but a row holds 1.5/],
    ['an infinite int64', { count: Infinity }, /column count is int64/],
    ['a numeric string in an int64 column', { count: '7' }, /column count is int64 but a row holds "7"/],
    ['a numeric string in a double column', { amount: '1.5' }, /column amount is double but a row holds "1.5"/],
    ['a string in a boolean column', { flag: 'yes' }, /column flag is boolean but a row holds "yes"/],
    ['a number in a boolean column', { flag: 1 }, /column flag is boolean but a row holds 1/],
    ['a timestamp beyond what a date can name', { at: 8.64e15 + 1 }, /timestamp column at needs epoch milliseconds, got 8640000000000001/],
  ])('refuses %s in both formats', async (_name, values, message) => {
    for (const format of ['jsonl', 'parquet'] as const) {
      const error = await writeRows(format, [row(values)]);
      expect(error?.message, format).toMatch(message);
      expect(error, format).toMatchObject({ code: 'SINK_FAILED' });
    }
  });

  it('writes the ends of the int64 range, and fractional timestamps truncated as Date does, alike in both formats', async () => {
    const rows = [
      row({ id: 'top', count: INT64_TOP, at: 8.64e15 }),
      row({ id: 'bottom', count: INT64_BOTTOM, at: -8.64e15 }),
      row({ id: 'before-1970', count: -1, at: -1.5 }),
      row({ id: 'after-1970', count: 0, at: 1.9, amount: 2.5, flag: false }),
    ];
    for (const format of ['jsonl', 'parquet'] as const) expect(await writeRows(format, rows), format).toBeUndefined();
    const expected = [
      { id: 'after-1970', count: '0', amount: 2.5, flag: false, at: '1970-01-01T00:00:00.001Z' },
      { id: 'before-1970', count: '-1', amount: null, flag: null, at: '1969-12-31T23:59:59.999Z' },
      { id: 'bottom', count: '-9223372036854775808', amount: null, flag: null, at: new Date(-8.64e15).toISOString() },
      { id: 'top', count: '9223372036854774784', amount: null, flag: null, at: new Date(8.64e15).toISOString() },
    ];
    const byId = (left: Record<string, unknown>, right: Record<string, unknown>) => String(left.id).localeCompare(String(right.id));
    expect((await readRows('jsonl')).sort(byId)).toEqual(expected);
    expect((await readRows('parquet')).sort(byId)).toEqual(expected);
  });
});
