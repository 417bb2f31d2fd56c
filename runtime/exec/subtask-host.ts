// Entry of a subtask's worker thread: builds its part of the plan and processes the coordinator's messages
// strictly in order, returning one credit per batch once the batch (and any sink write) is done. The thread
// may start before the job is known (warm-threads.ts): its first message says which subtask it is.

import { parentPort } from 'node:worker_threads';
import { describeError, isCoattailError } from '../errors.js';
import type { FromSubtask, SubtaskLaunch, ThreadError, ToSubtask } from './messages.js';
import { instantiatePlan } from './job-instance.js';
import type { DecodeRequest } from './decode-result.js';
import { decodeForCoordinator, DecodeStage } from './decode-stage.js';
import { SubtaskGraph } from './subtask-graph.js';
import { createCodec } from '../transport/record-codec.js';
import { addCounts } from './metrics.js';
import type { OperatorSnapshot } from './stream-operator.js';
import { copyOperatorState } from '../checkpoint/state-codec.js';
import { decodeRestoredOperators, encodeSubtaskState } from '../checkpoint/subtask-state-file.js';
import type { SubtaskCheckpointState } from '../checkpoint/restore.js';

const port = parentPort!;
const PROCESSING_TIME_TICK_MS = 100;
const METRICS_INTERVAL_MS = 1000;

function send(message: FromSubtask): void {
  port.postMessage(message);
}

/** What the coordinator needs to rebuild the error: a CoattailError keeps its code (SINK_FAILED, STORAGE, ...). */
function threadError(error: unknown): ThreadError {
  return {
    message: describeError(error),
    ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
    ...(isCoattailError(error) ? { code: error.code } : {}),
  };
}

function fail(error: unknown): void {
  send({ type: 'failed', ...threadError(error) });
}

/**
 * Decode requests are answered as they arrive, not in turn with batches: the coordinator needs decoded chunks
 * to produce the batches. They may arrive before the subtask is ready; the stage is built on the first.
 */
let decodeStage: Promise<DecodeStage> | undefined;
function decodeNow(launch: SubtaskLaunch, id: number, request: DecodeRequest): void {
  decodeStage ??= instantiatePlan(launch).then(({ plan }) =>
    DecodeStage.create(plan, launch.parallelism, launch.maxParallelism, launch.codec, launch.preAggregate !== false),
  );
  decodeStage
    .then((stage) => {
      const { result, transfer } = decodeForCoordinator(stage, request);
      port.postMessage({ type: 'decoded', id, result } satisfies FromSubtask, transfer);
    })
    .catch((error: unknown) => send({ type: 'decode-failed', id, ...threadError(error) }));
}

/** Until the subtask is built, other messages wait here, in order. */
const early: ToSubtask[] = [];
let deliver: ((message: ToSubtask) => void) | undefined;
let launch: SubtaskLaunch | undefined;
/** Set once the subtask's steps exist; before that no sink has written anything to discard. */
let abortSteps: (() => Promise<void>) | undefined;
port.on('message', (message: ToSubtask) => {
  if (message.type === 'launch') {
    launch = message.launch;
    main(launch).catch(fail);
  } else if (message.type === 'decode') decodeNow(launch!, message.id, message.request);
  // Not queued behind the messages before it: those are skipped once the run has failed.
  else if (message.type === 'abort') void (abortSteps?.() ?? Promise.resolve()).then(() => send({ type: 'aborted' }));
  else if (deliver) deliver(message);
  else early.push(message);
});

async function main(launch: SubtaskLaunch): Promise<void> {
  const codec = createCodec(launch.codec);
  const { plan } = await instantiatePlan(launch);
  const graph = await SubtaskGraph.create(plan, {
    subtaskIndex: launch.subtaskIndex,
    parallelism: launch.parallelism,
    maxParallelism: launch.maxParallelism,
    sinkContext: launch.sinkContext,
    ...(launch.sinkShared ? { sinkShared: launch.sinkShared } : {}),
  });
  for (let split = 0; split < launch.splitCount; split++) graph.gate.addSplit(split);
  if (launch.restore) graph.restoreOperators(decodeRestoredOperators(launch.restore));
  launch.restoreWatermarks?.forEach((watermark, split) => graph.gate.advance(split, watermark));

  /** Sink output prepared at barriers and not yet committed, oldest first. */
  const uncommitted: Array<{ checkpointId: number; pendingByUid: Record<string, unknown> }> = [];
  const lastStage = graph.stageCount - 1;
  /** A checkpoint's state gathered stage by stage, until its barrier has passed the last stage (§35). */
  const passing = new Map<number, { operators: Record<string, OperatorSnapshot>; counters: Record<string, number>; pendingByUid: Record<string, unknown> }>();

  /** What this subtask's stages sent into later stages, to the coordinator, which routes it (§35). */
  const sendOutput = () => {
    for (const output of graph.takeOutput()) {
      const transfer: ArrayBuffer[] = [];
      const targets = output.targets.map(({ subtask, records, shuffles, timestamps }) => {
        const batch = { subtask, records: codec.encode(records), shuffles: Uint8Array.from(shuffles), timestamps: Float64Array.from(timestamps) };
        transfer.push(batch.records.buffer as ArrayBuffer, batch.shuffles.buffer as ArrayBuffer, batch.timestamps.buffer as ArrayBuffer);
        return batch;
      });
      port.postMessage({ type: 'shuffle-out', stage: output.stage, targets, watermarks: output.watermarks } satisfies FromSubtask, transfer);
    }
  };
  /** End of a message's work: sinks write what they buffered, what crosses to later stages leaves. */
  const flushOut = async () => {
    await graph.flush();
    sendOutput();
  };

  /** Barrier `checkpointId` reached `stage`: its steps snapshot and pre-commit; after the last stage, the whole snapshot leaves. */
  const passBarrier = async (stage: number, checkpointId: number) => {
    await flushOut();
    const part = passing.get(checkpointId) ?? { operators: {}, counters: {}, pendingByUid: {} };
    // Kept until the last stage's barrier while this stage goes on: a copy, not the live state the snapshot refers to.
    Object.assign(part.operators, stage < lastStage ? copyOperatorState(graph.snapshotOperators(stage)) : graph.snapshotOperators(stage));
    addCounts(part.counters, graph.counters(stage));
    Object.assign(part.pendingByUid, await graph.prepareCommit(checkpointId, stage));
    if (stage < lastStage) {
      passing.set(checkpointId, part);
      send({ type: 'stage-passed', stage, checkpointId });
      return;
    }
    passing.delete(checkpointId);
    const snapshot: SubtaskCheckpointState = { operators: part.operators, counters: part.counters };
    const state = encodeSubtaskState(snapshot);
    uncommitted.push({ checkpointId, pendingByUid: part.pendingByUid });
    const pending = uncommitted.flatMap(({ pendingByUid }) => Object.entries(pendingByUid).map(([sink, value]) => ({ sink, pending: value })));
    port.postMessage({ type: 'snapshot', checkpointId, state, pending } satisfies FromSubtask, [state.buffer as ArrayBuffer]);
  };

  /** `stage` ends: its steps complete; after the last stage the subtask has finished. */
  const finishStage = async (stage: number) => {
    await graph.finish(lastStage === 0 ? undefined : stage);
    await flushOut();
    if (stage < lastStage) send({ type: 'stage-finished', stage });
    else send({ type: 'finished', counters: graph.counters() });
  };
  let failed = false;
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (work: () => void | Promise<void>) => {
    queue = queue.then(async () => {
      if (failed) return;
      try {
        await work();
      } catch (error) {
        failed = true;
        fail(error);
      }
    });
  };
  // The run failed (here or elsewhere): the work in progress ends, what is queued behind it is skipped, and the
  // sinks discard the output no prepared commit lists (parts in progress, open S3 uploads). Prepared output stays:
  // a checkpoint that completed may list it, and a restore commits or discards it.
  let aborted: Promise<void> | undefined;
  abortSteps = () => {
    failed = true;
    aborted ??= queue.then(() => graph.abort());
    return aborted;
  };
  // The gate starts at the restored split watermarks: the newest event time of each split, one record past the
  // watermark the restored steps saw (a record carries the watermark before it). Fire what that makes due first,
  // as the uninterrupted run did before its next record: otherwise the next records were judged against the older
  // watermark (one late in the uninterrupted run could still count in its window), and a run stopped before any
  // record fired those windows only while finishing, after its savepoint, so restoring that savepoint wrote their
  // rows twice.
  if (launch.restoreWatermarks) {
    enqueue(async () => {
      graph.propagateWatermark();
      await flushOut();
    });
  }

  const handle = async (message: ToSubtask): Promise<void> => {
    switch (message.type) {
      case 'batch': {
        const records = codec.decode(message.records);
        const { exitMasks, stamps, eventTimes, split } = message;
        for (let i = 0; i < records.length; i++) {
          const stamp = stamps[i]!;
          if (stamp !== stamp) continue; // NaN: dropped by the ordered stage (a duplicate)
          const eventTime = eventTimes[i]!;
          graph.deliver(split, stamp, records[i], exitMasks[i]!, eventTime === eventTime ? eventTime : null);
        }
        await flushOut();
        send({ type: 'credit' });
        return;
      }
      case 'shuffled': {
        const records = codec.decode(message.records);
        const { shuffles, timestamps } = message;
        for (let i = 0; i < records.length; i++) {
          const timestamp = timestamps[i]!;
          graph.deliverShuffled(shuffles[i]!, records[i], timestamp === timestamp ? timestamp : null);
        }
        await flushOut();
        send({ type: 'shuffle-ack', token: message.token });
        return;
      }
      case 'shuffle-watermark':
        if (graph.advanceShuffle(message.shuffle, message.watermark)) graph.propagateWatermark();
        await flushOut();
        return;
      case 'watermark':
        if (message.watermark > graph.gate.splitWatermark(message.split) && graph.gate.advance(message.split, message.watermark)) {
          graph.propagateWatermark();
        }
        await flushOut();
        return;
      case 'split-idle':
        if (graph.gate.setIdle(message.split, message.idle)) graph.propagateWatermark();
        await flushOut();
        return;
      case 'split-added':
        graph.gate.addSplit(message.split);
        return;
      case 'split-end':
        if (graph.gate.endSplit(message.split)) graph.propagateWatermark();
        await flushOut();
        return;
      case 'end-of-input':
        if (message.drain) {
          graph.gate.endAll();
          // Timers already due fire, as they would have at the next tick; those not yet due are dropped.
          graph.onProcessingTime(Date.now());
        }
        for (const { pendingByUid } of uncommitted.splice(0)) await graph.commit(pendingByUid);
        await finishStage(0);
        return;
      case 'stage-end':
        if (message.drain) graph.onProcessingTime(Date.now());
        await finishStage(message.stage);
        return;
      case 'barrier':
        await passBarrier(0, message.checkpointId);
        return;
      case 'stage-barrier':
        await passBarrier(message.stage, message.checkpointId);
        return;
      case 'decode':
      case 'launch':
      case 'abort':
        return; // answered on arrival
      case 'commit':
        while (uncommitted.length > 0 && uncommitted[0]!.checkpointId <= message.checkpointId) {
          await graph.commit(uncommitted.shift()!.pendingByUid);
        }
        send({ type: 'committed', checkpointId: message.checkpointId });
        return;
    }
  };

  deliver = (message) => enqueue(() => handle(message));
  for (const message of early.splice(0)) deliver(message);
  const tick = setInterval(() => enqueue(async () => {
    graph.onProcessingTime(Date.now());
    await flushOut();
  }), PROCESSING_TIME_TICK_MS);
  const report = setInterval(() => send({ type: 'metrics', counters: graph.counters(), watermark: graph.gate.current }), METRICS_INTERVAL_MS);
  tick.unref();
  report.unref();
  send({ type: 'ready' });
}
