import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { SinkWriter } from '../../runtime/api/sink.js';
import type { TableRow } from '../../runtime/api/table.js';
import { JsonlEncoder } from '../../connectors/sinks/jsonl-table.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import { expectedJsonRow, isHidden, listFiles, sinkContext, temporaryFolder, tradeRows, tradesSchema } from './helpers.js';

let folder: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ folder, cleanup } = await temporaryFolder()));
afterEach(() => cleanup());

const tableFolder = () => path.join(folder, tradesSchema.name);

async function jsonlWriter(options = {}, attemptId = 'a1'): Promise<SinkWriter<TableRow>> {
  return tableSink(tradesSchema, { jsonl: options }).create(sinkContext(folder, 'jsonl', { attemptId }));
}

/** Rows of every visible part, parts in name order. */
async function readVisibleRows(): Promise<unknown[]> {
  const rows: unknown[] = [];
  for (const file of (await listFiles(tableFolder())).filter((name) => !isHidden(name))) {
    const text = await readFile(path.join(tableFolder(), file), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.slice(0, -1).split('\n')) rows.push(JSON.parse(line));
  }
  return rows;
}

describe('JSON Lines table writer', () => {
  it('writes one row a line in column order with ISO-8601 UTC timestamps and json columns as text', async () => {
    const writer = await jsonlWriter();
    await writer.write([
      {
        event_id: 'e1',
        price: 0.5,
        trade_count: 3,
        timestamp: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
        is_buy: true,
        details: '{"a":[1,2]}',
        note: null,
        received_at: null,
        ignored_extra: 'dropped',
      },
    ]);
    expect(await writer.finish()).toBe(1);
    const files = await listFiles(tableFolder());
    expect(files).toEqual(['part-0-a1-00000.jsonl']);
    const text = await readFile(path.join(tableFolder(), files[0]!), 'utf8');
    expect(text).toBe(
      '{"event_id":"e1","price":0.5,"trade_count":3,"timestamp":"2024-01-02T03:04:05.006Z","is_buy":true,' +
        '"details":"{\\"a\\":[1,2]}","note":null,"received_at":null}\n',
    );
  });

  it('round-trips many rows with nulls, quotes, newlines and non-ASCII text', async () => {
    const rows = tradeRows(500);
    const writer = await jsonlWriter();
    await writer.write(rows.slice(0, 200));
    await writer.write(rows.slice(200));
    expect(await writer.finish()).toBe(500);
    expect(await readVisibleRows()).toEqual(rows.map(expectedJsonRow));
  });

  it('writes no date partitions: every part sits flat in the table folder', async () => {
    const writer = await jsonlWriter();
    await writer.write(tradeRows(100));
    await writer.finish();
    const files = await listFiles(tableFolder());
    expect(files.length).toBeGreaterThan(0);
    expect(files.every((file) => !file.includes('/') && file.endsWith('.jsonl'))).toBe(true);
  });

  it('shows only hidden files before a commit and only visible files after it', async () => {
    const writer = await jsonlWriter({ flushBytes: 1 });
    await writer.write(tradeRows(50));
    const inProgress = await listFiles(tableFolder());
    expect(inProgress.length).toBe(1);
    expect(inProgress.every(isHidden)).toBe(true);

    const pending = await writer.prepareCommit(1);
    expect(JSON.parse(JSON.stringify(pending))).toEqual(pending);
    expect((await listFiles(tableFolder())).every(isHidden)).toBe(true);

    await writer.commit(pending);
    const committed = await listFiles(tableFolder());
    expect(committed).toEqual(['part-0-a1-00000.jsonl']);
    expect(await readVisibleRows()).toHaveLength(50);
  });

  it('commits idempotently, also from a new writer of a later attempt', async () => {
    const writer = await jsonlWriter();
    await writer.write(tradeRows(10));
    const pending = await writer.prepareCommit(1);
    await writer.commit(pending);
    await writer.commit(pending);
    const restored = await jsonlWriter({}, 'a2');
    await restored.commit(JSON.parse(JSON.stringify(pending)));
    expect(await readVisibleRows()).toEqual(tradeRows(10).map(expectedJsonRow));
  });

  it('rolls to several parts when a part is full and keeps every row in order', async () => {
    const rows = tradeRows(1000);
    const writer = await jsonlWriter({ maxPartBytes: 20_000, flushBytes: 4_000 });
    for (let start = 0; start < rows.length; start += 37) await writer.write(rows.slice(start, start + 37));
    expect(await writer.finish()).toBe(1000);
    const files = await listFiles(tableFolder());
    expect(files.length).toBeGreaterThan(5);
    expect(files.every((file) => !isHidden(file))).toBe(true);
    expect(await readVisibleRows()).toEqual(rows.map(expectedJsonRow));
  });

  it('returns from finish the rows written across every checkpoint', async () => {
    const writer = await jsonlWriter();
    await writer.write(tradeRows(7));
    await writer.commit(await writer.prepareCommit(1));
    await writer.write(tradeRows(5, 7));
    await writer.prepareCommit(2); // checkpoint 2 never completes: finish still commits its parts
    await writer.write(tradeRows(3, 12));
    expect(await writer.finish()).toBe(15);
    expect(await readVisibleRows()).toEqual(tradeRows(15).map(expectedJsonRow));
    expect((await listFiles(tableFolder())).some(isHidden)).toBe(false);
  });

  it('leaves an empty table folder and no files when no rows arrive', async () => {
    const writer = await jsonlWriter();
    const pending = await writer.prepareCommit(1);
    await writer.commit(pending);
    expect(await writer.finish()).toBe(0);
    expect(await listFiles(folder)).toEqual([]);
    expect(await listFiles(tableFolder())).toEqual([]);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(folder)).toEqual(['whale_trades']);
  });

  it('rejects a null in a column that is not nullable', async () => {
    const writer = await jsonlWriter();
    const row = { ...tradeRows(1)[0]!, price: null };
    expect(() => writer.write([row])).toThrow(/column price is not nullable/);
  });

  it('rejects a timestamp that is not epoch milliseconds', async () => {
    const writer = await jsonlWriter();
    const row = { ...tradeRows(1)[0]!, timestamp: '2024-01-01T00:00:00Z' };
    expect(() => writer.write([row])).toThrow(/timestamp column timestamp needs epoch milliseconds/);
  });

  it('deletes unprepared parts on abort but keeps the parts of a prepared commit', async () => {
    const writer = await jsonlWriter({ flushBytes: 1 });
    await writer.write(tradeRows(5));
    const pending = (await writer.prepareCommit(1)) as { files: { hidden: string }[] };
    await writer.write(tradeRows(5, 5));
    expect(await listFiles(tableFolder())).toHaveLength(2);
    await writer.abort();
    expect((await listFiles(tableFolder())).map((file) => `whale_trades/${file}`)).toEqual(
      pending.files.map((file) => file.hidden),
    );
  });

  it('formats every timestamp exactly as Date.prototype.toISOString does', () => {
    const encoder = new JsonlEncoder({ name: 't', columns: [{ name: 'at', type: 'timestamp' }] });
    const values = [0, -1, 1.9, -1.5, 86_399_999, -86_400_000, 8.64e15, -8.64e15, -62_198_755_200_001, 253_402_300_800_000];
    let seed = 7;
    for (let index = 0; index < 2_000; index++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      values.push((seed / 2 ** 31 - 0.5) * 2 * 4e12 + (index % 3) * 0.25);
    }
    encoder.encode(values.map((at) => ({ at })));
    const lines = encoder.take().toString('utf8').trimEnd().split('\n');
    expect(lines).toEqual(values.map((at) => `{"at":"${new Date(at).toISOString()}"}`));
  });

  it('keeps nothing of a batch that holds a bad row', async () => {
    const writer = await jsonlWriter();
    const rows = tradeRows(3);
    expect(() => writer.write([rows[0]!, { ...rows[1]!, trade_count: undefined as unknown as number }])).toThrow(/trade_count/);
    await writer.write([rows[2]!]);
    expect(await writer.finish()).toBe(1);
    expect(await readVisibleRows()).toEqual([expectedJsonRow(rows[2]!)]);
  });
});
