// The coordinator on the main thread: reads source splits, has chunks decoded in parallel, applies the
// ordered stage in source order, routes batches to subtasks under credit-based backpressure, triggers
// checkpoints in band, and ends the run with its summary.

import { availableParallelism } from 'node:os';
import { CoattailError, isCoattailError } from '../errors.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import type { FromSubtask } from './messages.js';
import { CounterRegistry, addCounts, nestCounters } from './metrics.js';
import { OrderedResults } from './ordered-results.js';
import { OrderedStage } from './ordered-stage.js';
import { RunCheckpoints } from './run-checkpoints.js';
import { Semaphore } from './semaphore.js';
import { SubtaskPool } from './subtask-pool.js';
import { ChunkDelivery } from './chunk-delivery.js';
import { ShuffleRouter } from './shuffle-router.js';
import { writeOutputFile } from '../../connectors/sinks/output-file.js';
import { SplitReaders, type Item } from './split-readers.js';
import { WatermarkCeiling } from './watermark-ceiling.js';
import { initializeSinksGlobally } from './sink-globals.js';
import type { DecodeRequest, DecodeResult } from './decode-result.js';
import { HostedDecodePool, piscinaDecodePool, type DecodePool } from './decode-pool.js';
import { CheckpointCoordinator, type CoordinatorContribution } from '../checkpoint/checkpoint-coordinator.js';
import type { RunOptions, RunResult } from './run-options.js';
import { prepareRun } from './run-preparation.js';
import { startStatusReports } from './run-status.js';
import { SourceSplits } from './source-splits.js';
import { watchForNewSplits } from './split-discovery.js';
import { hasFileTables, statefulOperatorUids, type CoordinatorCheckpointState } from '../checkpoint/restore.js';

/** How long a failed run waits for its subtasks to discard their sinks' uncommitted output before ending them. */
const ABORT_TIMEOUT_MS = 3_000;

export async function runJob(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const log = options.log ?? ((message: string) => process.stderr.write(`coattail: ${message}\n`));
  const { jobName, plan, launch, store, existingCheckpoints, attemptId, restored, ...prepared } = await prepareRun(options, log);
  const splits = new SourceSplits(prepared.splits, restored);

  const coordinatorMetrics = new CounterRegistry();
  const recordsIn = coordinatorMetrics.counter('records_in');
  let recordsInTotal = 0;
  let decodedChunks = 0;
  const decodeCounters: Record<string, number> = {};
  const ordered = new OrderedStage(plan.dedupe, coordinatorMetrics);
  if (restored) {
    ordered.restore(restored.coordinator.ordered, restored.takeDedupeSegments());
    addCounts(decodeCounters, restored.coordinator.counters);
  }
  ordered.trackSplits(splits.count);
  splits.ended.forEach((splitEnded, split) => splitEnded && ordered.endSplit(split));

  let failure: CoattailError | undefined;
  let rejectFailure!: (error: CoattailError) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailure = reject));
  failed.catch(() => undefined);
  const fail = (error: unknown) => {
    if (failure) return;
    failure = isCoattailError(error) ? error : new CoattailError('WORKER_FAILED', error instanceof Error ? error.message : String(error), { cause: error });
    rejectFailure(failure);
  };

  let checkpoints: RunCheckpoints | undefined;
  // One decode thread per core: parsing and quality checks are the heaviest work (fewer threads measured slower
  // on jobs/all.ts). With at least as many subtasks, the subtask threads decode too (no threads of their own).
  const decodeThreads = Math.max(1, options.decodeThreads ?? availableParallelism());
  const decodeInSubtasks = options.parallelism >= decodeThreads;
  let hostedDecode: HostedDecodePool | undefined;
  let router: ShuffleRouter | undefined;
  const sinkShared = await initializeSinksGlobally(plan, { outDir: options.outDir, format: options.format });
  const subtasks = new SubtaskPool(
    Array.from({ length: options.parallelism }, (_, subtaskIndex) => ({
      ...launch,
      subtaskIndex,
      hostsDecode: decodeInSubtasks && subtaskIndex < decodeThreads,
      splitCount: splits.count,
      sinkContext: { subtaskIndex, parallelism: options.parallelism, attemptId, outDir: options.outDir, format: options.format },
      ...(Object.keys(sinkShared).length > 0 ? { sinkShared } : {}),
      ...(restored ? { restore: restored.operatorsFor(subtaskIndex), restoreWatermarks: restored.watermarks } : {}),
    })),
    options.creditsPerChannel ?? 4,
    {
      onFailure: fail,
      onMessage: (subtask: number, message: FromSubtask) => {
        if (router?.onMessage(subtask, message)) return;
        if (message.type === 'snapshot') checkpoints?.coordinator.acknowledge(subtask, message.checkpointId, { state: message.state, pending: message.pending });
        else if (message.type === 'decoded') hostedDecode?.settle(message.id, { result: message.result });
        else if (message.type === 'decode-failed') hostedDecode?.settle(message.id, { error: message });
      },
      ...(plan.stageCount > 1 ? { onCredit: (subtask: number, release: () => void) => router!.completeCredit(subtask, release) } : {}),
    },
  );
  // A second keyBy: what the subtasks' stages send into the next one goes through here (§35).
  if (plan.stageCount > 1) router = new ShuffleRouter(subtasks, plan.stageCount, plan.shuffles.length);
  // Each subtask's launch message carries (a copy of) its part of the checkpoint's operator state.
  restored?.releaseOperatorState();
  const checkpointCoordinator =
    store && options.checkpoint
      ? new CheckpointCoordinator(
          { store, intervalMs: options.checkpoint.intervalMs, retain: options.checkpoint.retain, tolerableFailures: options.checkpoint.tolerableFailures },
          {
            jobName,
            parallelism: options.parallelism,
            maxParallelism: options.maxParallelism,
            sourceUri: options.source.uri,
            ...(hasFileTables(plan) ? { outputFormat: options.format } : {}),
            ...(prepared.configDigests ? { configDigests: prepared.configDigests } : {}),
            operators: statefulOperatorUids(plan),
          },
          {
            sendBarrier: (id) => subtasks.broadcast({ type: 'barrier', checkpointId: id }),
            sendCommit: (id) => subtasks.broadcast({ type: 'commit', checkpointId: id }),
          },
          Math.max(0, ...existingCheckpoints) + 1,
          log,
          fail,
        )
      : undefined;
  if (decodeInSubtasks) hostedDecode = new HostedDecodePool(subtasks, decodeThreads);
  const pool: DecodePool =
    hostedDecode ??
    (await piscinaDecodePool(launch, decodeThreads, fail).catch(async (error: unknown) => {
      // The subtask threads run already (the run's clean-up below is not reached yet): end them, or they hold the process.
      await subtasks.terminate();
      throw error;
    }));

  const inFlight = new Semaphore(decodeThreads * 2 + 2);
  const results = new OrderedResults<Item>();
  let stopped = false;
  let wake: (() => void) | undefined;
  const onAbort = () => {
    stopped = true;
    inFlight.drain();
    wake?.();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // A stop requested while the job loaded or the checkpoint was restored fired its event before this listener
  // existed: honoured now, the run takes its savepoint without reading (it used to run to the end of the input).
  if (options.signal?.aborted) onAbort();

  const ceiling = new WatermarkCeiling(
    {
      count: () => splits.count,
      watermark: (split) => (splits.ended[split] ? Number.POSITIVE_INFINITY : ordered.splitWatermark(split)),
      active: (split) => splits.ended[split]! || !splits.idle[split],
    },
    restored ? Math.max(...splits.descriptors.map((_, split) => ordered.splitWatermark(split))) : Number.NEGATIVE_INFINITY,
  );

  /** Partials may be sent only if no subtask can have reached the watermark at which one would be late. */
  async function withoutLatePartials(item: Extract<Item, { kind: 'chunk' }>): Promise<DecodeResult> {
    const { result } = item;
    if (result.partialsFireAt === undefined) return result;
    ceiling.update();
    if (result.partialsFireAt > ceiling.value) return result;
    const payload = result.payload ?? item.request.payload;
    const request: DecodeRequest = { ...item.request, payload, preAggregate: false };
    const transferList = payload.kind === 'lines' ? [payload.bytes.buffer as ArrayBuffer] : [];
    return pool.run(request, transferList);
  }

  const contribution = (checkpointId: number): CoordinatorContribution => {
    const { state: orderedState, files } = ordered.snapshot((index) => `shared/dedupe-${checkpointId}-${index}.segment`);
    const state: CoordinatorCheckpointState = {
      ordered: orderedState,
      counters: mergeCounters(coordinatorMetrics.values(), decodeCounters, [restored?.subtaskCounters ?? {}]),
    };
    return {
      state,
      splits: splits.checkpoints(),
      newSharedFiles: files.map(({ key, data }) => ({ key, value: data })),
      sharedFiles: orderedState.dedupeSegments,
    };
  };
  if (checkpointCoordinator) checkpoints = new RunCheckpoints(checkpointCoordinator, ordered, started, contribution);

  /** Wait for the next item, waking for due checkpoints and stop requests meanwhile. */
  async function nextItem(pending: Promise<Item>): Promise<Item | 'stopped'> {
    for (;;) {
      if (stopped) return 'stopped';
      const timer = checkpoints?.msUntilDue();
      const outcome = await new Promise<Item | 'stopped' | 'tick' | 'failed'>((resolve) => {
        const handle = timer === undefined ? undefined : setTimeout(() => resolve('tick'), timer);
        // A stop must not leave the checkpoint timer armed: it would keep the process alive until it fires.
        wake = () => {
          if (handle) clearTimeout(handle);
          resolve('stopped');
        };
        pending.then(
          (item) => {
            if (handle) clearTimeout(handle);
            resolve(item);
          },
          () => {
            if (handle) clearTimeout(handle);
            resolve('failed');
          },
        );
      });
      // A rejected decode surfaces through `pending` in the caller's await. Looping on it instead (to take a due
      // checkpoint first) never yielded to the event loop: the checkpoint in progress could not finish, and the
      // process spun until it ran out of memory.
      if (outcome === 'failed') return pending;
      if (outcome === 'tick') {
        checkpoints?.triggerIfDue();
        continue;
      }
      return outcome;
    }
  }

  const delivery = new ChunkDelivery(subtasks, ordered);

  /** A chunk is between its ceiling check and the last of its batches being posted. */
  let applying = false;
  async function applyInOrder(): Promise<void> {
    while (splits.open > 0 && !failure) {
      const item = await nextItem(results.next());
      if (item === 'stopped') return;
      if (item.kind === 'split-end') {
        splits.end(item.split);
        ordered.endSplit(item.split);
        subtasks.broadcast({ type: 'split-end', split: item.split });
        ceiling.update();
        continue;
      }
      inFlight.release();
      const { split } = item;
      splits.release(split);
      applying = true;
      // Only records end idleness: a live source's empty polls would wake an idle split every few ms.
      if (item.result.recordsIn > 0 && splits.wake(split)) delivery.setSplitIdle(split, false);
      const result = await withoutLatePartials(item);
      recordsIn.inc(result.recordsIn);
      recordsInTotal += result.recordsIn;
      decodedChunks++;
      addCounts(decodeCounters, result.counters);
      const stamps = ordered.apply(split, result);
      ceiling.update();
      await delivery.postBatches(split, result, stamps);
      delivery.announceWatermark(split);
      applying = false;
      if (result.payload?.kind === 'lines') item.recycle(result.payload.bytes);
      splits.positions[split] = item.endPosition;
      checkpoints?.triggerIfDue();
    }
  }

  const idleMs = plan.watermarks?.idleMs ?? Number.POSITIVE_INFINITY;
  const idleCheck = setInterval(() => {
    // Not between checking a chunk's partials against the ceiling and sending them: idleness raises it.
    if (applying) return;
    for (const split of splits.markIdle(Date.now(), idleMs)) {
      delivery.setSplitIdle(split, true);
      ceiling.update();
    }
  }, Math.max(50, Math.min(1000, idleMs / 4)));

  const restoredRecordsIn = restored?.coordinator.counters['records_in'] ?? 0;
  const statusTimer = options.onStatus
    ? startStatusReports(options.onStatus, options.statusIntervalMs ?? 1000, started, restoredRecordsIn, () => ({
        // Counted across restores, as the row counts beside it and records_in of _summary.json are.
        recordsIn: restoredRecordsIn + recordsInTotal,
        watermark: Math.min(...splits.descriptors.map((_, split) => ordered.splitWatermark(split))),
        counters: mergeCounters(coordinatorMetrics.values(), decodeCounters, [...subtasks.counters(), restored?.subtaskCounters ?? {}]),
        checkpoints: { completed: checkpointCoordinator?.completed ?? 0, failed: checkpointCoordinator?.failed ?? 0 },
      }))
    : undefined;

  let rediscovery: NodeJS.Timeout | undefined;
  /** Every subtask finished (drained or stopped); until then an ending run is a failed one and its sinks abort. */
  let finished = false;
  try {
    // Reading and decoding start while the subtask threads boot; applying waits for them below.
    const readers = new SplitReaders({
      source: options.source,
      pool,
      inFlight,
      results,
      shouldStop: () => stopped || failure !== undefined,
      onRecords: (split) => splits.recordsRead(split),
      onHold: (split) => splits.hold(split),
      onRelease: (split) => splits.release(split),
    });
    splits.descriptors.forEach((split, index) => readers.add(split, splits.positions[index], splits.ended[index]!));
    readers.done().catch(fail);
    // Splits that appear while running (resharding) join the run; each subtask's gate learns of them first.
    rediscovery = watchForNewSplits(options.source, {
      isKnown: (splitId) => splits.knows(splitId),
      shouldStop: () => stopped || failure !== undefined,
      onNewSplit: (split) => {
        const index = splits.add(split);
        ordered.trackSplits(splits.count);
        subtasks.broadcast({ type: 'split-added', split: index });
        log(`new split ${split.splitId} (${split.origin})`);
        readers.add(split, undefined, false);
      },
      log,
    });
    await Promise.race([subtasks.ready(), failed]);
    await Promise.race([applyInOrder(), failed]);
    // A final checkpoint (a savepoint when stopped) before finishing, so a kill while finishing restores exactly.
    const savepoint = await checkpoints?.takeFinal(() => stopped, failed);
    if (router) router.drain = !stopped;
    const finalCounters = await Promise.race([subtasks.finishAll(!stopped), failed]);
    finished = true;
    // The decode stage's counters arrive with decoded chunks: after none (an empty input) its steps' counters
    // (the quality stage's rejections) would be missing from the summary instead of 0.
    if (decodedChunks === 0 && !restored) addCounts(decodeCounters, await registeredDecodeCounters(plan, options.parallelism, options.maxParallelism));
    const counters = mergeCounters(coordinatorMetrics.values(), decodeCounters, [...finalCounters, restored?.subtaskCounters ?? {}]);
    const summary = {
      job: jobName,
      ...nestCounters(counters),
      parallelism: options.parallelism,
      max_parallelism: options.maxParallelism,
      duration_ms: Date.now() - started,
      stopped,
      ...(restored ? { restored_from: restored.checkpointId } : {}),
      ...(checkpointCoordinator ? { checkpoints: { completed: checkpointCoordinator.completed, failed: checkpointCoordinator.failed } } : {}),
      ...(options.source.stats ? { source_stats: options.source.stats() } : {}),
    };
    const summaryPath = await writeOutputFile(options.outDir, '_summary.json', JSON.stringify(summary, null, 2) + '\n');
    return {
      jobName,
      summary,
      summaryPath,
      stopped,
      ...(stopped && savepoint ? { savepoint } : {}),
      ...(restored ? { restoredFrom: restored.checkpointId } : {}),
    };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    clearInterval(idleCheck);
    if (rediscovery) clearInterval(rediscovery);
    if (statusTimer) clearInterval(statusTimer);
    stopped = true;
    inFlight.drain();
    if (!finished) await subtasks.abortAll(ABORT_TIMEOUT_MS);
    await subtasks.terminate(failure ?? new CoattailError('WORKER_FAILED', 'run ended'));
    await pool.destroy();
    // An S3 client keeps sockets open: a caller of runJob (a service, a test) would collect one per run.
    await store?.storage.close?.().catch(() => undefined);
  }
}

/** Every counter the decode stage's steps register, at 0. Loaded only when needed: the coordinator never decodes. */
async function registeredDecodeCounters(plan: PhysicalPlan, parallelism: number, maxParallelism: number): Promise<Record<string, number>> {
  const { DecodeStage } = await import('./decode-stage.js');
  return (await DecodeStage.create(plan, parallelism, maxParallelism)).drainCounters();
}

function mergeCounters(coordinator: Record<string, number>, decode: Record<string, number>, subtasks: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  addCounts(total, coordinator);
  addCounts(total, decode);
  for (const counters of subtasks) addCounts(total, counters);
  return total;
}
