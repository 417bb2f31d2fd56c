import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { stdoutSink } from '../../connectors/sinks/stdout-sink.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import type { TableSchema } from '../../runtime/api/table.js';
import { sinkContext, tradesSchema } from './helpers.js';

describe('table sink factory', () => {
  it('is named after its table', () => {
    expect(tableSink(tradesSchema).name).toBe('whale_trades');
  });

  it('rejects schemas a reader could not use', () => {
    const cases: [TableSchema, RegExp][] = [
      [{ ...tradesSchema, partitionBy: 'price' }, /partitionBy must name a timestamp column/],
      [{ ...tradesSchema, partitionBy: 'nope' }, /partitionBy must name a timestamp column/],
      [{ ...tradesSchema, name: '_hidden' }, /the name must start with a letter or digit/],
      [{ ...tradesSchema, name: 'a/b' }, /the name must start/],
      [{ name: 't', columns: [] }, /at least one column/],
      [{ name: 't', columns: [{ name: 'a', type: 'string' }, { name: 'a', type: 'double' }] }, /appears twice/],
      // The Hive partition column would hide it: DuckDB reads the folder's date, Spark and Athena refuse the table.
      [{ ...tradesSchema, columns: [...tradesSchema.columns, { name: 'date', type: 'string' }] }, /the column date clashes with the date= partition/],
      [{ ...tradesSchema, columns: [...tradesSchema.columns, { name: 'Date', type: 'string' }] }, /the column Date clashes with the date= partition/],
    ];
    for (const [schema, message] of cases) {
      expect(() => tableSink(schema)).toThrow(message);
      expect(() => tableSink(schema)).toThrow(expect.objectContaining({ code: 'JOB_INVALID' }));
    }
  });

  it('rejects an unknown output format', async () => {
    const context = { ...sinkContext('/tmp/unused', 'jsonl'), format: 'csv' as 'jsonl' };
    await expect(tableSink(tradesSchema).create(context)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('stdout sink', () => {
  it('prints one line per record, one write per batch, and counts the records', async () => {
    const output = new PassThrough();
    const chunks: string[] = [];
    output.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const sink = stdoutSink<{ id: number }>('alerts', (row) => `alert ${row.id}`, output);
    expect(sink.name).toBe('alerts');
    const writer = await sink.create(sinkContext('/tmp/unused', 'jsonl'));
    await writer.write([{ id: 1 }, { id: 2 }]);
    await writer.write([]);
    await writer.write([{ id: 3 }]);
    expect(await writer.prepareCommit(1)).toBeNull();
    expect(await writer.finish()).toBe(3);
    expect(chunks).toEqual(['alert 1\nalert 2\n', 'alert 3\n']);
  });

  it('prints JSON by default', async () => {
    const output = new PassThrough();
    const writer = await stdoutSink<{ a: number }>('rows', undefined, output).create(sinkContext('/tmp/unused', 'jsonl'));
    await writer.write([{ a: 1 }]);
    expect(output.read()!.toString()).toBe('{"a":1}\n');
  });
});
