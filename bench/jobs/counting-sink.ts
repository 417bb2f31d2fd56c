// Sinks for benchmark jobs: count rows without disk I/O, optionally as slowly as a slow external store.

import type { SinkFactory } from 'coattail';
import { setTimeout as sleep } from 'node:timers/promises';

/** Counts rows; `finish` reports the count so it shows in `_summary.json`. Keeps the benchmark about the engine. */
export function countingSink<T>(name: string): SinkFactory<T> {
  return {
    name,
    create() {
      let rows = 0;
      return {
        write(batch) {
          rows += batch.length;
        },
        async prepareCommit() {
          return null;
        },
        async commit() {},
        async finish() {
          return rows;
        },
        async abort() {},
      };
    },
  };
}

/**
 * A sink that takes `microsPerRow` of wall-clock time per row (sleeping, not spinning, as a remote store
 * would), so the engine must hold the source back instead of buffering.
 */
export function slowSink<T>(name: string, microsPerRow: number): SinkFactory<T> {
  return {
    name,
    create() {
      let rows = 0;
      let owedMicros = 0;
      return {
        async write(batch) {
          rows += batch.length;
          owedMicros += batch.length * microsPerRow;
          // Sleep whole milliseconds and carry the rest, so small batches still add up to the right pace.
          const millis = Math.floor(owedMicros / 1000);
          if (millis > 0) {
            owedMicros -= millis * 1000;
            await sleep(millis);
          }
        },
        async prepareCommit() {
          return null;
        },
        async commit() {},
        async finish() {
          return rows;
        },
        async abort() {},
      };
    },
  };
}
