// Sinks for the end-to-end test jobs: JSON Lines files per subtask, and a deliberately slow sink that measures
// how much parsed input has not reached it yet (the data in flight between the decode pool and the sink).

import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import type { SinkFactory } from 'coattail';

/**
 * Rows as JSON Lines in `<out>/<name>/part-<subtask>.jsonl`. `prepareCommitMs` holds every checkpoint open that long
 * (a slow sink), so a test can be sure a checkpoint is in progress.
 */
export function jsonlSink<T>(name: string, prepareCommitMs = 0): SinkFactory<T> {
  return {
    name,
    create(context) {
      const dir = join(context.outDir, name);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `part-${context.subtaskIndex}.jsonl`);
      writeFileSync(file, '');
      let rows = 0;
      return {
        write(batch) {
          rows += batch.length;
          appendFileSync(file, batch.map((row) => `${JSON.stringify(row)}\n`).join(''));
        },
        prepareCommit: async () => {
          if (prepareCommitMs > 0) await new Promise((resolve) => setTimeout(resolve, prepareCommitMs));
          return null;
        },
        commit: async () => undefined,
        finish: async () => rows,
        abort: async () => undefined,
      };
    },
  };
}

/** Parse steps report the byte offset they have reached on this channel; the slow sink listens. */
export const PROGRESS_CHANNEL = 'coattail-e2e-progress';

export interface SlowSinkStats {
  readonly batches: number;
  readonly rows: number;
  /** The most input bytes ever parsed but not yet handed to the sink. */
  readonly maxUndeliveredBytes: number;
  readonly maxRssBytes: number;
}

/** Sleeps `sleepMs` per batch; at finish writes `<out>/slow-stats-<subtask>.json`. */
export function slowSink(name: string, sleepMs: number): SinkFactory<{ offset: number }> {
  return {
    name,
    create(context) {
      let parsed = -1;
      let delivered = -1;
      const stats = { batches: 0, rows: 0, maxUndeliveredBytes: 0, maxRssBytes: 0 };
      const note = () => {
        stats.maxUndeliveredBytes = Math.max(stats.maxUndeliveredBytes, parsed - delivered);
        stats.maxRssBytes = Math.max(stats.maxRssBytes, process.memoryUsage().rss);
      };
      const channel = new BroadcastChannel(PROGRESS_CHANNEL);
      channel.unref();
      channel.onmessage = (event) => {
        parsed = Math.max(parsed, (event as { data: number }).data);
        note();
      };
      return {
        async write(batch) {
          stats.batches++;
          stats.rows += batch.length;
          for (const row of batch) if (row.offset > delivered) delivered = row.offset;
          note();
          await new Promise((resolve) => setTimeout(resolve, sleepMs));
        },
        prepareCommit: async () => null,
        commit: async () => undefined,
        async finish() {
          channel.close();
          mkdirSync(context.outDir, { recursive: true });
          writeFileSync(join(context.outDir, `slow-stats-${context.subtaskIndex}.json`), JSON.stringify(stats));
          return stats.rows;
        },
        abort: async () => undefined,
      };
    },
  };
}
