// SPEC §3: "idle splits (no data for a configurable time) do not hold [the watermark] back". A live source whose
// split has no data keeps answering with empty chunks (Kinesis polls an empty shard, decisions of
// docs/connectors-kinesis.md): those are no data, so the split must still go idle. It used to count as active, and
// one empty shard of a stream held every window of the run back for ever.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runJob, type Source, type SourceChunk, type SplitReader } from '../../dist/runtime/index.js';
import { assertBuilt, JOB_ALL, REPO_ROOT, runCliToEnd } from './support/cli.js';

let workDir: string;

/** One trade a minute for `minutes` minutes, then nothing. */
function trades(minutes: number): string[] {
  const start = Date.UTC(2026, 0, 5);
  return Array.from({ length: minutes }, (_, k) =>
    JSON.stringify({ event_id: `t${k}`, exchange: 'binance', symbol: 'BTC-USDT', price: 100, quantity: 1, side: 'buy', timestamp: new Date(start + k * 60_000 + 5_000).toISOString() }),
  );
}

/** A live source of two splits, like a Kinesis stream of two shards with records on one only. */
function liveSourceWithAnEmptySplit(texts: readonly string[]): Source {
  const reader = (data: readonly string[]): SplitReader => {
    let sent = false;
    return {
      async next(): Promise<SourceChunk> {
        if (!sent && data.length > 0) {
          sent = true;
          return { payload: { kind: 'records', texts: data, offsets: data.map((_, i) => i) }, endPosition: data.length };
        }
        await new Promise((resolve) => setTimeout(resolve, 50)); // a poll that found nothing
        return { payload: { kind: 'records', texts: [], offsets: [] }, endPosition: data.length };
      },
      async close() {},
    };
  };
  return {
    uri: 'test:two-splits',
    bounded: false,
    async discoverSplits() {
      return [
        { splitId: 'with-data', origin: 'test:with-data' },
        { splitId: 'empty', origin: 'test:empty' },
      ];
    },
    async openSplit(split) {
      return reader(split.splitId === 'with-data' ? texts : []);
    },
  };
}

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-idle-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('idle splits of a live source', () => {
  test('a split that only answers with empty chunks goes idle and the other split fires its windows', async () => {
    const features = await readFile(path.join(REPO_ROOT, 'config', 'features.yaml'), 'utf8');
    const configPath = path.join(workDir, 'features.yaml');
    await writeFile(configPath, features.replace(/idle_timeout: \S+/, 'idle_timeout: 300ms'));
    const stop = new AbortController();
    let volumeRows = 0;
    const giveUp = setTimeout(() => stop.abort(), 15_000);
    const result = await runJob({
      jobFile: JOB_ALL,
      source: liveSourceWithAnEmptySplit(trades(10)),
      outDir: path.join(workDir, 'out'),
      format: 'jsonl',
      parallelism: 2,
      maxParallelism: 128,
      configPath,
      signal: stop.signal,
      statusIntervalMs: 100,
      onStatus: (status) => {
        volumeRows = status.counters['rows.volume_aggregates'] ?? volumeRows;
        if (volumeRows > 0) stop.abort();
      },
      log: () => undefined,
    });
    clearTimeout(giveUp);
    // 10 minutes of trades with a 30 s delay: the first 9 windows are due once the empty split is idle.
    expect((result.summary.rows as Record<string, number>).volume_aggregates).toBeGreaterThan(0);
  });
});

describe('splits of a folder that wait their turn', () => {
  // 600 files are more splits than chunks in flight: most wait for a place, and each chunk waits to be applied
  // behind the others. That wait is the engine's, not a split without data. Counted as idleness, it marked files
  // idle before they were read, the watermark moved on with the files read first, and the records of the rest
  // came late (some 11,000 of 24,000 with a 200 ms idle_timeout, a different number every run).
  test('never go idle while they have records to read, so in-order files lose nothing as late', async () => {
    const folder = path.join(workDir, 'many-files');
    await mkdir(folder);
    const start = Date.UTC(2025, 2, 1);
    const windows = new Set<string>();
    for (let file = 0; file < 600; file++) {
      const lines = Array.from({ length: 40 }, (_, k) => {
        const time = start + file * 50 + k * 2_500;
        const exchange = k % 2 === 0 ? 'binance' : 'coinbase';
        windows.add(`${file}/${exchange}/${Math.floor(time / 60_000)}`);
        return JSON.stringify({ event_id: `f${file}-${k}`, exchange, symbol: `S${file}-USD`, price: 100 + (k % 3), quantity: 1, side: 'buy', timestamp: time });
      });
      await writeFile(path.join(folder, `part-${String(file).padStart(4, '0')}.jsonl`), lines.join('\n') + '\n');
    }
    const configPath = path.join(workDir, 'short-idle.yaml');
    await writeFile(configPath, 'source:\n  idle_timeout: 100ms\n');
    const out = path.join(workDir, 'many-files-out');
    await runCliToEnd(['run', JOB_ALL, '-s', `file:${folder}`, '-o', out, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints', '-c', configPath]);
    const summary = JSON.parse(await readFile(path.join(out, '_summary.json'), 'utf8')) as { passed: number; late_dropped: Record<string, number>; rows: Record<string, number> };
    expect(summary.passed).toBe(24_000);
    expect(summary.late_dropped).toEqual({ spread: 0, volume: 0 });
    expect(summary.rows.volume_aggregates).toBe(windows.size);
  });
});
