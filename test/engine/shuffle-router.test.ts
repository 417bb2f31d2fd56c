// The coordinator's side of a second keyBy (docs/decisions.md §35), against recorded subtask handles: routing,
// each shuffle's watermark as the minimum over its senders, credits held until what a batch produced is
// processed, barrier alignment per stage, and stages ended one after another.
import { describe, expect, it } from 'vitest';

import type { FromSubtask, ToSubtask } from '../../runtime/exec/messages.js';
import { ShuffleRouter } from '../../runtime/exec/shuffle-router.js';
import type { SubtaskPool } from '../../runtime/exec/subtask-pool.js';

/** Two (or more) subtasks whose posted messages are recorded in order, as each thread's queue would hold them. */
function recordingPool(parallelism = 2) {
  const received: ToSubtask[][] = Array.from({ length: parallelism }, () => []);
  const subtasks = received.map((queue) => ({ post: (message: ToSubtask) => void queue.push(message) }));
  const pool = { subtasks, broadcast: (message: ToSubtask) => subtasks.forEach((s) => s.post(message)) } as unknown as SubtaskPool;
  return { pool, received };
}

/** A `shuffle-out` of `stage` with one batch per target (records are opaque bytes here) and watermarks. */
function output(stage: number, targets: number[], watermarks: Array<[shuffle: number, watermark: number]> = []): FromSubtask {
  return {
    type: 'shuffle-out',
    stage,
    targets: targets.map((subtask) => ({ subtask, records: new Uint8Array([subtask]), shuffles: new Uint8Array([0]), timestamps: new Float64Array([1]) })),
    watermarks: watermarks.map(([shuffle, watermark]) => ({ shuffle, watermark })),
  };
}

const kinds = (queue: ToSubtask[]) =>
  queue.map((m) => (m.type === 'shuffle-watermark' ? `watermark ${m.watermark}` : m.type === 'stage-barrier' ? `barrier ${m.stage}/${m.checkpointId}` : m.type === 'stage-end' ? `end ${m.stage}` : m.type));
const tokenOf = (message: ToSubtask | undefined) => (message as Extract<ToSubtask, { type: 'shuffled' }>).token;

describe('ShuffleRouter', () => {
  it('routes batches to their targets and forwards a shuffle\'s watermark only as the minimum over its senders rises, after the records', () => {
    const { pool, received } = recordingPool();
    const router = new ShuffleRouter(pool, 2, 1);
    router.onMessage(0, output(0, [1], [[0, 100]]));
    // Subtask 1 has not reported yet: its -Infinity holds the shuffle back.
    expect(kinds(received[1]!)).toEqual(['shuffled']);
    expect(kinds(received[0]!)).toEqual([]);
    router.onMessage(1, output(0, [0], [[0, 50]]));
    expect(kinds(received[0]!)).toEqual(['shuffled', 'watermark 50']);
    router.onMessage(1, output(0, [], [[0, 200]]));
    expect(kinds(received[1]!)).toEqual(['shuffled', 'watermark 50', 'watermark 100']);
    // Not sent again when the minimum stays.
    router.onMessage(1, output(0, [], [[0, 300]]));
    expect(kinds(received[1]!)).toEqual(['shuffled', 'watermark 50', 'watermark 100']);
  });

  it('returns a source credit only once every batch it produced is processed, and what those produced in turn', () => {
    const { pool, received } = recordingPool();
    const router = new ShuffleRouter(pool, 3, 2);
    let released = 0;
    router.onMessage(0, output(0, [0, 1]));
    router.completeCredit(0, () => released++);
    expect(released).toBe(0);
    // Subtask 0 processes its own batch, producing nothing: one of two done.
    router.onMessage(0, { type: 'shuffle-ack', token: tokenOf(received[0]![0]) });
    expect(released).toBe(0);
    // Subtask 1 processes the other and sends a batch of its own into the third stage first.
    router.onMessage(1, output(1, [0]));
    router.onMessage(1, { type: 'shuffle-ack', token: tokenOf(received[1]![0]) });
    expect(released).toBe(0);
    router.onMessage(0, { type: 'shuffle-ack', token: tokenOf(received[0]![1]) });
    expect(released).toBe(1);
    // A batch that produced nothing returns its credit at once.
    router.completeCredit(1, () => released++);
    expect(released).toBe(2);
  });

  it('aligns barriers: the next stage\'s barrier follows every subtask\'s output from before it, what came after is held behind it', () => {
    const { pool, received } = recordingPool();
    const router = new ShuffleRouter(pool, 2, 1);
    router.onMessage(0, { type: 'stage-passed', stage: 0, checkpointId: 7 });
    router.onMessage(0, output(0, [1], [[0, 500]])); // after subtask 0's barrier: held
    router.onMessage(1, output(0, [1], [[0, 400]])); // before subtask 1's barrier: goes on
    expect(kinds(received[1]!)).toEqual(['shuffled']);
    router.onMessage(1, { type: 'stage-passed', stage: 0, checkpointId: 7 });
    expect(kinds(received[0]!)).toEqual(['barrier 1/7', 'watermark 400']);
    expect(kinds(received[1]!)).toEqual(['shuffled', 'barrier 1/7', 'shuffled', 'watermark 400']);
    // The next checkpoint starts from scratch: nothing is held any more.
    router.onMessage(0, output(0, [1]));
    expect(kinds(received[1]!).at(-1)).toBe('shuffled');
  });

  it('ends a stage once every subtask has finished the one before, with the run\'s drain flag', () => {
    const { pool, received } = recordingPool(3);
    const router = new ShuffleRouter(pool, 3, 2);
    router.drain = false;
    router.onMessage(2, { type: 'stage-finished', stage: 0 });
    router.onMessage(0, { type: 'stage-finished', stage: 0 });
    expect(received.map(kinds)).toEqual([[], [], []]);
    router.onMessage(1, { type: 'stage-finished', stage: 0 });
    expect(received.map((queue) => queue.at(-1))).toEqual(Array(3).fill({ type: 'stage-end', stage: 1, drain: false }));
    for (const subtask of [0, 1, 2]) router.onMessage(subtask, { type: 'stage-finished', stage: 1 });
    expect(received.map(kinds)).toEqual(Array(3).fill(['end 1', 'end 2']));
  });

  it('leaves every other message to the coordinator', () => {
    const { pool } = recordingPool();
    const router = new ShuffleRouter(pool, 2, 1);
    expect(router.onMessage(0, { type: 'credit' })).toBe(false);
    expect(router.onMessage(0, { type: 'ready' })).toBe(false);
  });
});
