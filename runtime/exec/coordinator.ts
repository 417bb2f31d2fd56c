// The coordinator on the main thread: reads source splits, has chunks decoded in parallel, applies the
// ordered stage in source order, routes batches to subtasks under credit-based backpressure, triggers
// checkpoints in band, and ends the run with its summary.

import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Source, SplitPosition } from '../api/source.js';
import { CoattailError, describeError, isCoattailError } from '../errors.js';
import type { CodecName } from '../transport/record-codec.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import { instantiatePlan, prepareLaunch } from './job-instance.js';
import { bundleJob } from './job-loader.js';
import type { FromSubtask, JobLaunch } from './messages.js';
import { CounterRegistry, addCounts, nestCounters } from './metrics.js';
import { OrderedResults } from './ordered-results.js';
import { OrderedStage, type OrderedStageState } from './ordered-stage.js';
import { Semaphore } from './semaphore.js';
import { SubtaskPool } from './subtask-pool.js';
import { outputFileExists, writeOutputFile } from '../../connectors/sinks/output-file.js';
import { SplitIdleClock } from './split-idle-clock.js';
import { SplitReaders, type Item } from './split-readers.js';
import { WatermarkCeiling } from './watermark-ceiling.js';
import { initializeSinksGlobally } from './sink-globals.js';
import type { DecodeRequest, DecodeResult } from './decode-stage.js';
import { HostedDecodePool, piscinaDecodePool, type DecodePool } from './decode-pool.js';
import { CheckpointCoordinator, type CoordinatorContribution } from '../checkpoint/checkpoint-coordinator.js';
import type { CheckpointMetadata, SplitCheckpoint } from '../checkpoint/metadata.js';
import { prepareRestore, type RestoredRun } from './restore-run.js';
import { openCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { configDigests } from '../checkpoint/config-digest.js';
import { hasFileTables, statefulOperatorUids, type CoordinatorCheckpointState } from '../checkpoint/restore.js';

/** The longest delay a Node timer holds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CheckpointOptions {
  readonly location: string;
  readonly intervalMs: number;
  readonly retain: number;
  readonly tolerableFailures: number;
  readonly s3Endpoint?: string;
}

export interface RunOptions {
  readonly jobFile: string;
  readonly source: Source;
  readonly outDir: string;
  readonly format: 'parquet' | 'jsonl';
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly configPath?: string;
  /** Extra outputs for the job to wire (`dlq`, `alerts`), see JobContext.outputs. */
  readonly outputs?: Readonly<Record<string, string>>;
  readonly codec?: CodecName;
  /** false: no pre-aggregation of windows in the decode stage (see AggregateFunction.merge). Default true. */
  readonly preAggregate?: boolean;
  /** Threads decoding chunks; default: the number of cores. */
  readonly decodeThreads?: number;
  readonly creditsPerChannel?: number;
  /** Periodic checkpoints; without it the run keeps no checkpoints. */
  readonly checkpoint?: CheckpointOptions;
  /** `latest`, `chk-N`, `N` or a checkpoint folder path. Needs `checkpoint` for where to look. */
  readonly restore?: string;
  /** Abort to stop a run (Ctrl-C): reading stops, a savepoint is taken if checkpointing, the summary is written. */
  readonly signal?: AbortSignal;
  readonly onStatus?: (status: RunStatus) => void;
  readonly statusIntervalMs?: number;
  /** Operational messages (checkpoint failures, restore choices). */
  readonly log?: (message: string) => void;
}

export interface RunStatus {
  readonly elapsedMs: number;
  readonly recordsIn: number;
  readonly recordsPerSecond: number;
  /** The lowest split watermark (max event time delivered), or -Infinity before any. */
  readonly watermark: number;
  readonly counters: Record<string, number>;
  readonly checkpoints: { readonly completed: number; readonly failed: number };
}

export interface RunResult {
  readonly jobName: string;
  readonly summary: Record<string, unknown>;
  readonly summaryPath: string;
  readonly stopped: boolean;
  readonly savepoint?: CheckpointMetadata;
  readonly restoredFrom?: number;
}

export async function runJob(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const log = options.log ?? ((message: string) => process.stderr.write(`coattail: ${message}\n`));
  const jobUrl = await bundleJob(options.jobFile);
  const unprepared: JobLaunch = {
    jobUrl,
    ...(options.configPath ? { configPath: options.configPath } : {}),
    sourceUri: options.source.uri,
    live: !options.source.bounded,
    outputs: options.outputs ?? {},
    parallelism: options.parallelism,
    maxParallelism: options.maxParallelism,
    codec: options.codec ?? 'columnar',
    ...(options.preAggregate === false ? { preAggregate: false } : {}),
  };
  const launch = await prepareLaunch(unprepared, options.jobFile);
  const { name: jobName, plan } = await instantiatePlan(launch, options.jobFile);
  const splits = await options.source.discoverSplits();
  if (splits.length === 0) throw new CoattailError('SOURCE_FAILED', `source ${options.source.uri} has no splits to read`);
  const store = options.checkpoint ? openCheckpointStore(options.checkpoint.location, options.checkpoint.s3Endpoint) : undefined;
  const configDigestsOfRun = launch.prepared === undefined ? undefined : configDigests(launch.prepared);
  const restored: RestoredRun | undefined =
    options.restore !== undefined ? await prepareRestore(options, plan, splits, log, configDigestsOfRun) : undefined;
  // Tables append, as Flink's file sink does; a second run into one folder is worth a line, since its
  // _summary.json will then count only its own rows (decisions §24).
  if (options.restore === undefined && (await outputFileExists(options.outDir, '_summary.json'))) {
    log(`${options.outDir} holds an earlier run's tables: this run adds its files beside them and replaces _summary.json (use another -o to keep results apart)`);
  }

  const coordinatorMetrics = new CounterRegistry();
  const recordsIn = coordinatorMetrics.counter('records_in');
  let recordsInTotal = 0;
  let decodedChunks = 0;
  const decodeCounters: Record<string, number> = {};
  const ordered = new OrderedStage(plan.dedupe, coordinatorMetrics);
  if (restored) {
    ordered.restore(restored.coordinator.ordered, restored.dedupeSegments);
    addCounts(decodeCounters, restored.coordinator.counters);
  }
  const positions: Array<SplitPosition | undefined> = splits.map((_, i) => restored?.startPositions[i]);
  const ended: boolean[] = splits.map((_, i) => restored?.alreadyEnded[i] ?? false);
  ordered.trackSplits(splits.length);
  ended.forEach((splitEnded, split) => splitEnded && ordered.endSplit(split));

  let failure: CoattailError | undefined;
  let rejectFailure!: (error: CoattailError) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailure = reject));
  failed.catch(() => undefined);
  const fail = (error: unknown) => {
    if (failure) return;
    failure = isCoattailError(error) ? error : new CoattailError('WORKER_FAILED', error instanceof Error ? error.message : String(error), { cause: error });
    rejectFailure(failure);
  };

  let checkpoints: CheckpointCoordinator | undefined;
  const attemptId = randomUUID().slice(0, 8);
  // Checkpoint storage is reached once before any thread works (as Flink sets it up at start): storage that
  // cannot be listed fails the run here, in one line. Later outages fail checkpoints, not the run (decisions §19).
  const existingCheckpoints = store ? await store.allIds() : [];
  // Before any sink writes a part: a later restore from this folder may then remove this run's unfinished parts.
  await store?.registerAttempt(attemptId);
  // One decode thread per core: parsing and quality checks are the heaviest work (fewer threads measured slower
  // on jobs/all.ts). With at least as many subtasks, the subtask threads decode too (no threads of their own).
  const decodeThreads = Math.max(1, options.decodeThreads ?? availableParallelism());
  const decodeInSubtasks = options.parallelism >= decodeThreads;
  let hostedDecode: HostedDecodePool | undefined;
  const sinkShared = await initializeSinksGlobally(plan, { outDir: options.outDir, format: options.format });
  const subtasks = new SubtaskPool(
    Array.from({ length: options.parallelism }, (_, subtaskIndex) => ({
      ...launch,
      subtaskIndex,
      hostsDecode: decodeInSubtasks && subtaskIndex < decodeThreads,
      splitCount: splits.length,
      sinkContext: { subtaskIndex, parallelism: options.parallelism, attemptId, outDir: options.outDir, format: options.format },
      ...(Object.keys(sinkShared).length > 0 ? { sinkShared } : {}),
      ...(restored ? { restore: restored.operatorsFor(subtaskIndex), restoreWatermarks: restored.watermarks } : {}),
    })),
    options.creditsPerChannel ?? 4,
    {
      onFailure: fail,
      onMessage: (subtask: number, message: FromSubtask) => {
        if (message.type === 'snapshot') checkpoints?.acknowledge(subtask, message.checkpointId, { state: message.state, pending: message.pending });
        else if (message.type === 'decoded') hostedDecode?.settle(message.id, { result: message.result });
        else if (message.type === 'decode-failed') hostedDecode?.settle(message.id, { error: decodeFailure(message.message, message.stack) });
      },
    },
  );
  if (store && options.checkpoint) {
    checkpoints = new CheckpointCoordinator(
      { store, intervalMs: options.checkpoint.intervalMs, retain: options.checkpoint.retain, tolerableFailures: options.checkpoint.tolerableFailures },
      {
        jobName,
        parallelism: options.parallelism,
        maxParallelism: options.maxParallelism,
        sourceUri: options.source.uri,
        ...(hasFileTables(plan) ? { outputFormat: options.format } : {}),
        ...(configDigestsOfRun ? { configDigests: configDigestsOfRun } : {}),
        operators: statefulOperatorUids(plan),
      },
      {
        sendBarrier: (id) => subtasks.broadcast({ type: 'barrier', checkpointId: id }),
        sendCommit: (id) => subtasks.broadcast({ type: 'commit', checkpointId: id }),
      },
      Math.max(0, ...existingCheckpoints) + 1,
      log,
      fail,
    );
  }
  if (decodeInSubtasks) hostedDecode = new HostedDecodePool(subtasks, decodeThreads);
  const pool: DecodePool = hostedDecode ?? (await piscinaDecodePool(launch, decodeThreads, fail));

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

  const idleClock = new SplitIdleClock(splits.length, Date.now());
  const idle = splits.map(() => false);
  const ceiling = new WatermarkCeiling(
    {
      count: () => splits.length,
      watermark: (split) => (ended[split] ? Number.POSITIVE_INFINITY : ordered.splitWatermark(split)),
      active: (split) => ended[split]! || !idle[split],
    },
    restored ? Math.max(...splits.map((_, split) => ordered.splitWatermark(split))) : Number.NEGATIVE_INFINITY,
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
      splits: splits.map((split, i): SplitCheckpoint => ({ splitId: split.splitId, origin: split.origin, position: positions[i], ended: ended[i]! })),
      newSharedFiles: files.map(({ key, data }) => ({ key, value: data })),
      sharedFiles: orderedState.dedupeSegments,
    };
  };
  const triggerCheckpoint = async (savepoint: boolean): Promise<CheckpointMetadata | undefined> => {
    let taken: OrderedStageState | undefined;
    const metadata = await checkpoints!.trigger((id) => {
      const built = contribution(id);
      taken = (built.state as CoordinatorCheckpointState).ordered;
      return built;
    }, savepoint);
    if (metadata && taken) ordered.confirmSnapshot(taken);
    return metadata;
  };
  let nextCheckpointAt = started + (options.checkpoint?.intervalMs ?? 0);

  /** Wait for the next item, waking for due checkpoints and stop requests meanwhile. */
  async function nextItem(pending: Promise<Item>): Promise<Item | 'stopped'> {
    for (;;) {
      if (stopped) return 'stopped';
      // Node fires a timer over 2^31-1 ms after 1 ms (with a warning): wake at that bound and wait again.
      const timer = checkpoints ? Math.min(MAX_TIMER_MS, Math.max(0, nextCheckpointAt - Date.now())) : undefined;
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
        if (!checkpoints || Date.now() < nextCheckpointAt) continue;
        maybeCheckpoint();
        continue;
      }
      return outcome;
    }
  }

  function maybeCheckpoint(): void {
    if (!checkpoints || checkpoints.busy || Date.now() < nextCheckpointAt) return;
    nextCheckpointAt = Date.now() + checkpoints.intervalMs;
    void triggerCheckpoint(false);
  }

  let openSplits = splits.length;
  /** A chunk is between its ceiling check and the last of its batches being posted. */
  let applying = false;
  async function applyInOrder(): Promise<void> {
    while (openSplits > 0 && !failure) {
      const item = await nextItem(results.next());
      if (item === 'stopped') return;
      if (item.kind === 'split-end') {
        openSplits--;
        ended[item.split] = true;
        ordered.endSplit(item.split);
        subtasks.broadcast({ type: 'split-end', split: item.split });
        ceiling.update();
        continue;
      }
      inFlight.release();
      const { split } = item;
      idleClock.release(split, Date.now());
      applying = true;
      if (idle[split] && item.result.recordsIn > 0) {
        // Only records end idleness: a live source's empty polls would wake an idle split every few ms.
        idle[split] = false;
        ordered.setIdle(split, false);
        subtasks.broadcast({ type: 'split-idle', split, idle: false });
      }
      const result = await withoutLatePartials(item);
      recordsIn.inc(result.recordsIn);
      recordsInTotal += result.recordsIn;
      decodedChunks++;
      addCounts(decodeCounters, result.counters);
      const stamps = ordered.apply(split, result);
      ceiling.update();
      for (let t = 0; t < result.targets.length; t++) {
        const target = result.targets[t]!;
        const subtask = subtasks.subtasks[target.subtask]!;
        await subtask.credits.acquire();
        const stampArray = stamps[t]!;
        const { records, exitMasks, eventTimes } = target;
        subtask.post({ type: 'batch', split, records, exitMasks, stamps: stampArray, eventTimes }, [
          records.buffer as ArrayBuffer,
          exitMasks.buffer as ArrayBuffer,
          stampArray.buffer as ArrayBuffer,
          eventTimes.buffer as ArrayBuffer,
        ]);
      }
      applying = false;
      if (result.payload?.kind === 'lines') item.recycle(result.payload.bytes);
      positions[split] = item.endPosition;
      maybeCheckpoint();
    }
  }

  const idleMs = plan.watermarks?.idleMs ?? Number.POSITIVE_INFINITY;
  const idleCheck = setInterval(() => {
    // Not between checking a chunk's partials against the ceiling and sending them: idleness raises it.
    if (applying) return;
    const now = Date.now();
    splits.forEach((_, split) => {
      if (!idle[split] && !ended[split] && idleClock.quietMs(split, now) > idleMs) {
        idle[split] = true;
        ordered.setIdle(split, true);
        subtasks.broadcast({ type: 'split-idle', split, idle: true });
        ceiling.update();
      }
    });
  }, Math.max(50, Math.min(1000, idleMs / 4)));

  let lastStatus = { time: started, records: 0 };
  const statusTimer = options.onStatus
    ? setInterval(() => {
        const now = Date.now();
        const rate = ((recordsInTotal - lastStatus.records) * 1000) / Math.max(1, now - lastStatus.time);
        lastStatus = { time: now, records: recordsInTotal };
        const counters = mergeCounters(coordinatorMetrics.values(), decodeCounters, [...subtasks.counters(), restored?.subtaskCounters ?? {}]);
        const watermark = Math.min(...splits.map((_, s) => ordered.splitWatermark(s)));
        options.onStatus!({
          elapsedMs: now - started,
          recordsIn: recordsInTotal,
          recordsPerSecond: rate,
          watermark,
          counters,
          checkpoints: { completed: checkpoints?.completed ?? 0, failed: checkpoints?.failed ?? 0 },
        });
      }, options.statusIntervalMs ?? 1000)
    : undefined;

  let rediscovery: NodeJS.Timeout | undefined;
  try {
    // Reading and decoding start while the subtask threads boot; applying waits for them below.
    const readers = new SplitReaders({
      source: options.source,
      pool,
      inFlight,
      results,
      shouldStop: () => stopped || failure !== undefined,
      onRecords: (split) => idleClock.records(split, Date.now()),
      onHold: (split) => idleClock.hold(split, Date.now()),
      onRelease: (split) => idleClock.release(split, Date.now()),
    });
    splits.forEach((split, index) => readers.add(split, positions[index], ended[index]!));
    readers.done().catch(fail);
    if (options.source.rediscoverMs !== undefined && !options.source.bounded) {
      // Splits that appear while running (resharding) join the run; each subtask's gate learns of them first.
      const rediscoverMs = options.source.rediscoverMs;
      rediscovery = setInterval(() => {
        options.source
          .discoverSplits()
          .then((found) => {
            for (const split of found) {
              if (stopped || failure || splits.some((known) => known.splitId === split.splitId)) continue;
              const index = splits.length;
              splits.push(split);
              positions.push(undefined);
              ended.push(false);
              idleClock.add(Date.now());
              idle.push(false);
              ordered.trackSplits(splits.length);
              openSplits++;
              subtasks.broadcast({ type: 'split-added', split: index });
              log(`new split ${split.splitId} (${split.origin})`);
              readers.add(split, undefined, false);
            }
          })
          .catch((error) => log(`split discovery failed, will retry: ${describeError(error)}`));
      }, rediscoverMs);
    }
    await Promise.race([subtasks.ready(), failed]);
    await Promise.race([applyInOrder(), failed]);
    // A final checkpoint (a savepoint when stopped) before finishing, so a kill while finishing restores exactly.
    let savepoint: CheckpointMetadata | undefined;
    if (checkpoints) {
      while (checkpoints.busy) await Promise.race([new Promise((resolve) => setTimeout(resolve, 10)), failed]);
      savepoint = await Promise.race([triggerCheckpoint(stopped), failed]);
      // Sinks commit their last files when they finish. Without a final checkpoint behind them, a kill while
      // finishing would restore an earlier checkpoint that cannot revoke those files, and they would be written
      // twice: so a bounded finish retries it until it completes or the failures exceed the tolerable number.
      for (let attempt = 1; !savepoint && !stopped; attempt++) {
        await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt))), failed]);
        savepoint = await Promise.race([triggerCheckpoint(false), failed]);
      }
    }
    const finalCounters = await Promise.race([subtasks.finishAll(!stopped), failed]);
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
      ...(checkpoints ? { checkpoints: { completed: checkpoints.completed, failed: checkpoints.failed } } : {}),
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
    clearInterval(idleCheck);
    if (rediscovery) clearInterval(rediscovery);
    if (statusTimer) clearInterval(statusTimer);
    stopped = true;
    inFlight.drain();
    await subtasks.terminate(failure ?? new CoattailError('WORKER_FAILED', 'run ended'));
    await pool.destroy();
  }
}

/** Every counter the decode stage's steps register, at 0. Loaded only when needed: the coordinator never decodes. */
async function registeredDecodeCounters(plan: PhysicalPlan, parallelism: number, maxParallelism: number): Promise<Record<string, number>> {
  const { DecodeStage } = await import('./decode-stage.js');
  return (await DecodeStage.create(plan, parallelism, maxParallelism)).drainCounters();
}

/** An error thrown while a subtask thread decoded a chunk, as piscina would hand it over. */
function decodeFailure(message: string, stack: string | undefined): Error {
  const error = new Error(message);
  if (stack) error.stack = stack;
  return error;
}

function mergeCounters(coordinator: Record<string, number>, decode: Record<string, number>, subtasks: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  addCounts(total, coordinator);
  addCounts(total, decode);
  for (const counters of subtasks) addCounts(total, counters);
  return total;
}
