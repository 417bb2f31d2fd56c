// Which checkpoints a job may restore: state the job has no step for is refused (a renamed window would lose
// it), steps without state in the checkpoint start empty, and sinks that hold nothing are not state at all.
import { describe, expect, it } from 'vitest';

import { buildJob } from '../../runtime/graph/job.js';
import { planJob, type PhysicalPlan } from '../../runtime/plan/physical-plan.js';
import { abandonedSplits, checkRestoreCompatible, hasFileTables, statefulOperatorUids } from '../../runtime/checkpoint/restore.js';
import type { CheckpointMetadata } from '../../runtime/checkpoint/metadata.js';
import { CoattailError, defineJob, stdoutSink, tumbling, type SinkFactory } from '../../runtime/index.js';

interface Row {
  readonly k: string;
  readonly t: number;
}

/** A sink with pending output to recover, as table sinks have. */
const tableLike: SinkFactory<unknown> = {
  name: 'table',
  create: () => ({ write() {}, prepareCommit: async () => null, commit: async () => {}, finish: async () => 0, abort: async () => {} }),
  recover: async () => {},
};
const count = { createAccumulator: () => 0, add: (_: Row, n: number) => n + 1, getResult: (n: number) => n };

/** The counting job, with a console sink on live runs and a second table sink when asked. */
function plan(options: { live: boolean; windowName?: string; extraTable?: boolean }): PhysicalPlan {
  const job = defineJob('test', (env, context) => {
    const counts = env
      .source('lines')
      .map('parse', (raw) => JSON.parse(raw.text) as Row)
      .withWatermarks('event-time', { timestamp: (r) => r.t })
      .keyBy('by-k', (r) => r.k)
      .window(tumbling('60s'))
      .aggregate(options.windowName ?? 'count', count);
    counts.sinkTo('counts', tableLike);
    if (context.live) counts.sinkTo('console', stdoutSink('console'));
    if (options.extraTable) counts.sinkTo('more-counts', tableLike);
  });
  return planJob(buildJob(job, { live: options.live }).graph);
}

function metadataOf(stored: PhysicalPlan): CheckpointMetadata {
  return { checkpointId: 7, maxParallelism: 128, operators: statefulOperatorUids(stored) } as unknown as CheckpointMetadata;
}

describe('restore compatibility', () => {
  it('stores state for windows, event time and sinks with output to recover, not for the console sink', () => {
    expect(statefulOperatorUids(plan({ live: true }))).toEqual(['count', 'counts', 'event-time']);
  });

  it("restores a live run's checkpoint into a bounded run of the same job and the other way round", () => {
    expect(checkRestoreCompatible(metadataOf(plan({ live: true })), plan({ live: false }), 128).startEmpty).toEqual([]);
    expect(checkRestoreCompatible(metadataOf(plan({ live: false })), plan({ live: true }), 128).startEmpty).toEqual([]);
  });

  it('starts a step the checkpoint has no state for empty, and names it', () => {
    expect(checkRestoreCompatible(metadataOf(plan({ live: false })), plan({ live: false, extraTable: true }), 128).startEmpty).toEqual(['more-counts']);
  });

  it('refuses a checkpoint of file tables in another format; jobs without file tables and older checkpoints have none to compare', () => {
    const stored = plan({ live: false });
    expect(hasFileTables(stored)).toBe(true);
    const jsonl = { ...metadataOf(stored), outputFormat: 'jsonl' } as CheckpointMetadata;
    expect(checkRestoreCompatible(jsonl, stored, 128, { format: 'jsonl' }).startEmpty).toEqual([]);
    expect(() => checkRestoreCompatible(jsonl, stored, 128, { format: 'parquet' })).toThrow(
      "checkpoint 7 was taken by a run writing jsonl tables, this run writes parquet; a table's parts stay in one format, run with -f jsonl",
    );
    // Written before the field existed, or by a job without file tables: nothing to compare.
    expect(checkRestoreCompatible(metadataOf(stored), stored, 128, { format: 'parquet' }).startEmpty).toEqual([]);
    expect(checkRestoreCompatible(jsonl, stored, 128).startEmpty).toEqual([]);
  });

  it('names the splits the checkpoint was still reading that the source no longer has; ended and new splits are fine', () => {
    const split = (splitId: string, ended: boolean) => ({ splitId, origin: `file:/in/${splitId}`, position: 10, ended });
    const metadata = { splits: [split('a.jsonl', false), split('b.jsonl', true), split('c.jsonl', false)] } as unknown as CheckpointMetadata;
    expect(abandonedSplits(metadata, [{ splitId: 'c.jsonl' }, { splitId: 'd.jsonl' }])).toEqual(['file:/in/a.jsonl']);
    expect(abandonedSplits(metadata, [{ splitId: 'a.jsonl' }, { splitId: 'c.jsonl' }])).toEqual([]);
  });

  it('refuses state the job has no step for, naming it', () => {
    const refusal = (() => {
      try {
        checkRestoreCompatible(metadataOf(plan({ live: false })), plan({ live: false, windowName: 'renamed' }), 128);
      } catch (error) {
        return error as CoattailError;
      }
      throw new Error('expected a refusal');
    })();
    expect(refusal).toBeInstanceOf(CoattailError);
    expect(refusal.message).toBe(
      `checkpoint 7 does not match this job's operators: state for "count" has no step in this job ` +
        '(a step renamed or removed: give it its old name back, or drop that state with --allow-non-restored-state)',
    );
  });

  it('drops state the job has no step for when the run allows it, naming it, and starts the renamed step empty', () => {
    const compatibility = checkRestoreCompatible(metadataOf(plan({ live: false })), plan({ live: false, windowName: 'renamed' }), 128, {
      allowNonRestoredState: true,
    });
    expect(compatibility).toEqual({ startEmpty: ['renamed'], dropped: ['count'] });
  });
});
