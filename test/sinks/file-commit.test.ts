import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { discardUncommitted } from '../../connectors/sinks/file-commit.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import { expectedJsonRow, isHidden, listFiles, sinkContext, temporaryFolder, tradeRows, tradesSchema } from './helpers.js';

let folder: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ folder, cleanup } = await temporaryFolder()));
afterEach(() => cleanup());

type Pending = { kind: string; files: { hidden: string; final: string; rows: number }[] };

function writerFor(format: 'jsonl' | 'parquet', attemptId: string, subtaskIndex = 0) {
  return tableSink(tradesSchema).create(sinkContext(folder, format, { attemptId, subtaskIndex }));
}

describe('file commit protocol', () => {
  it('discards on restore the parts written after the restored checkpoint and keeps the listed ones', async () => {
    const writer = await writerFor('parquet', 'first');
    await writer.write(tradeRows(30));
    const kept = (await writer.prepareCommit(1)) as Pending;
    await writer.write(tradeRows(20, 30));
    const later = (await writer.prepareCommit(2)) as Pending;
    await writer.write(tradeRows(10, 50));
    await writer.prepareCommit(3);
    // The process dies here: no commit arrives. A file of somebody else must survive the clean-up, and so must
    // the part in progress of another job writing into the same folder (an attempt this restore does not own).
    await writeFile(path.join(folder, 'whale_trades', '.keep-me'), 'not ours');
    const otherJob = await writerFor('parquet', 'otherjob', 1);
    await otherJob.write(tradeRows(7, 100));
    const otherPending = (await otherJob.prepareCommit(1)) as Pending;

    const pendingThroughCheckpoint = JSON.parse(JSON.stringify(kept)) as Pending;
    const before = (await listFiles(path.join(folder, 'whale_trades'))).filter((file) => file.endsWith('.inprogress'));
    const deleted = await discardUncommitted(folder, ['whale_trades', 'missing_table'], [null, pendingThroughCheckpoint], new Set(['first']));
    expect(deleted).toBe(before.length - kept.files.length - otherPending.files.length);
    expect(later.files.length).toBeGreaterThan(0);

    const remaining = (await listFiles(path.join(folder, 'whale_trades'))).map((file) => `whale_trades/${file}`);
    const survivors = [...kept.files, ...otherPending.files].map((file) => file.hidden);
    expect(remaining.sort()).toEqual([...survivors, 'whale_trades/.keep-me'].sort());
    await otherJob.commit(otherPending);

    const restored = await writerFor('parquet', 'second');
    await restored.commit(pendingThroughCheckpoint);
    const visible = (await listFiles(path.join(folder, 'whale_trades'))).filter((file) => !isHidden(file));
    expect(visible.map((file) => `whale_trades/${file}`).sort()).toEqual([...kept.files, ...otherPending.files].map((file) => file.final).sort());
    expect(kept.files.reduce((sum, file) => sum + file.rows, 0)).toBe(30);
  });

  it('deletes nothing when every hidden part is listed in a kept commit', async () => {
    const writer = await writerFor('jsonl', 'a1');
    await writer.write(tradeRows(5));
    const pending = await writer.prepareCommit(1);
    expect(await discardUncommitted(folder, ['whale_trades'], [pending], new Set(['a1']))).toBe(0);
    expect(await listFiles(path.join(folder, 'whale_trades'))).toHaveLength(1);
  });

  it('accepts a commit whose files are already visible and fails when a pending file is lost', async () => {
    const writer = await writerFor('jsonl', 'a1');
    await writer.write(tradeRows(5));
    const pending = (await writer.prepareCommit(1)) as Pending;
    await writer.commit(pending);
    await writer.commit(pending);

    await writer.write(tradeRows(5, 5));
    const lost = (await writer.prepareCommit(2)) as Pending;
    await rm(path.join(folder, lost.files[0]!.hidden));
    await expect(writer.commit(lost)).rejects.toMatchObject({ code: 'SINK_FAILED' });
  });

  it('refuses a damaged pending commit of a table writer and ignores pendings of other sinks', async () => {
    const writer = await writerFor('jsonl', 'a1');
    await expect(writer.commit({ kind: 'coattail.table-files', version: 1, table: 't', files: 'nope' })).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
    });
    await expect(writer.commit(null)).resolves.toBeUndefined();
    await expect(writer.commit({ shardId: 'x' })).resolves.toBeUndefined();
  });

  it('names parts by subtask and attempt so parallel writers never collide', async () => {
    const writers = await Promise.all([0, 1, 2].map((subtask) => writerFor('jsonl', 'run/7', subtask)));
    await Promise.all(writers.map((writer, subtask) => writer.write(tradeRows(3, subtask * 3))));
    await Promise.all(writers.map((writer) => writer.finish()));
    expect(await listFiles(path.join(folder, 'whale_trades'))).toEqual([
      'part-0-run_7-00000.jsonl',
      'part-1-run_7-00000.jsonl',
      'part-2-run_7-00000.jsonl',
    ]);
    const lines = (await readFile(path.join(folder, 'whale_trades', 'part-2-run_7-00000.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(tradeRows(3, 6).map(expectedJsonRow));
  });

  it('reports a part that cannot be written as a sink failure', async () => {
    const writer = await tableSink(tradesSchema, { jsonl: { flushBytes: 1 } }).create(sinkContext(folder, 'jsonl'));
    await rm(path.join(folder, 'whale_trades'), { recursive: true });
    await writeFile(path.join(folder, 'whale_trades'), 'a file where the table folder should be');
    await expect(writer.write(tradeRows(1))).rejects.toMatchObject({ code: 'SINK_FAILED' });
  });
});
