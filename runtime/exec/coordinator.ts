// The coordinator on the main thread: reads source splits, has chunks decoded in parallel, applies the
// ordered stage in source order, routes batches to subtasks under credit-based backpressure, and ends the run.

import { availableParallelism } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Source, SplitDescriptor } from '../api/source.js';
import { CoattailError, isCoattailError } from '../errors.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import type { CodecName } from '../transport/record-codec.js';
import type { DecodeRequest, DecodeResult } from './decode-stage.js';
import { instantiatePlan } from './job-instance.js';
import { bundleJob } from './job-loader.js';
import type { JobLaunch } from './messages.js';
import { CounterRegistry, addCounts, nestCounters } from './metrics.js';
import { OrderedResults } from './ordered-results.js';
import { OrderedStage } from './ordered-stage.js';
import { Semaphore } from './semaphore.js';
import { SubtaskPool } from './subtask-pool.js';

export interface RunOptions {
  readonly jobFile: string;
  readonly source: Source;
  readonly outDir: string;
  readonly format: 'parquet' | 'jsonl';
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly configPath?: string;
  readonly codec?: CodecName;
  /** Threads decoding chunks; default: the number of cores. */
  readonly decodeThreads?: number;
  readonly creditsPerChannel?: number;
  /** Abort to stop a run (Ctrl-C): reading stops, what was read is completed, the summary is written. */
  readonly signal?: AbortSignal;
  readonly onStatus?: (status: RunStatus) => void;
  readonly statusIntervalMs?: number;
}

export interface RunStatus {
  readonly elapsedMs: number;
  readonly recordsIn: number;
  readonly recordsPerSecond: number;
  /** The lowest split watermark (max event time delivered), or -Infinity before any. */
  readonly watermark: number;
  readonly counters: Record<string, number>;
}

export interface RunResult {
  readonly jobName: string;
  readonly summary: Record<string, unknown>;
  readonly summaryPath: string;
  readonly stopped: boolean;
}

type Item =
  | { kind: 'chunk'; split: number; result: DecodeResult }
  | { kind: 'split-end'; split: number };

export async function runJob(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const jobUrl = await bundleJob(options.jobFile);
  const launch: JobLaunch = {
    jobUrl,
    ...(options.configPath ? { configPath: options.configPath } : {}),
    sourceUri: options.source.uri,
    live: !options.source.bounded,
    parallelism: options.parallelism,
    maxParallelism: options.maxParallelism,
    codec: options.codec ?? 'msgpack',
  };
  const { name: jobName, plan } = await instantiatePlan(launch, options.jobFile);
  const splits = await options.source.discoverSplits();
  if (splits.length === 0) throw new CoattailError('SOURCE_FAILED', `source ${options.source.uri} has no splits to read`);

  const coordinatorMetrics = new CounterRegistry();
  const recordsIn = coordinatorMetrics.counter('records_in');
  let recordsInTotal = 0;
  const decodeCounters: Record<string, number> = {};
  const ordered = new OrderedStage(plan.dedupe, coordinatorMetrics);

  let failure: CoattailError | undefined;
  let rejectFailure!: (error: CoattailError) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailure = reject));
  failed.catch(() => undefined);
  const fail = (error: unknown) => {
    if (failure) return;
    failure = isCoattailError(error) ? error : new CoattailError('WORKER_FAILED', error instanceof Error ? error.message : String(error), { cause: error });
    rejectFailure(failure);
  };

  const attemptId = randomUUID().slice(0, 8);
  const subtasks = new SubtaskPool(
    Array.from({ length: options.parallelism }, (_, subtaskIndex) => ({
      ...launch,
      subtaskIndex,
      splitCount: splits.length,
      sinkContext: { subtaskIndex, parallelism: options.parallelism, attemptId, outDir: options.outDir, format: options.format },
    })),
    options.creditsPerChannel ?? 4,
    { onFailure: fail },
  );
  const decodeThreads = Math.max(1, options.decodeThreads ?? availableParallelism());
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./decode-worker.js', import.meta.url)),
    workerData: launch,
    minThreads: decodeThreads,
    maxThreads: decodeThreads,
    idleTimeout: Number.POSITIVE_INFINITY,
  });
  pool.on('error', fail);

  const inFlight = new Semaphore(decodeThreads * 2 + 2);
  const results = new OrderedResults<Item>();
  let stopped = false;
  const onAbort = () => {
    stopped = true;
    inFlight.drain();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const lastActivity = splits.map(() => Date.now());
  const idle = splits.map(() => false);

  async function readSplit(split: SplitDescriptor, index: number): Promise<void> {
    const reader = await options.source.openSplit(split, undefined);
    try {
      for (;;) {
        await inFlight.acquire();
        if (stopped || failure) return;
        const chunk = await reader.next();
        if (stopped || failure) return;
        const seq = results.reserve();
        if (!chunk) {
          results.put(seq, Promise.resolve({ kind: 'split-end', split: index }));
          return;
        }
        lastActivity[index] = Date.now();
        const request: DecodeRequest = { chunkSeq: seq, origin: split.origin, payload: chunk.payload };
        const transferList = chunk.payload.kind === 'lines' ? [chunk.payload.bytes.buffer as ArrayBuffer] : [];
        const decoded = pool.run(request, { transferList }) as Promise<DecodeResult>;
        results.put(seq, decoded.then((result) => ({ kind: 'chunk', split: index, result })));
      }
    } finally {
      await reader.close();
    }
  }

  async function applyInOrder(): Promise<void> {
    let openSplits = splits.length;
    while (openSplits > 0 && !failure) {
      const nextItem = results.next();
      const item = await Promise.race([nextItem, stopSignal()]);
      if (item === 'stopped') return;
      if (item.kind === 'split-end') {
        openSplits--;
        subtasks.broadcast({ type: 'split-end', split: item.split });
        continue;
      }
      inFlight.release();
      const { result, split } = item;
      recordsIn.inc(result.recordsIn);
      recordsInTotal += result.recordsIn;
      addCounts(decodeCounters, result.counters);
      if (idle[split]) {
        idle[split] = false;
        subtasks.broadcast({ type: 'split-idle', split, idle: false });
      }
      const stamps = ordered.apply(split, result);
      for (let t = 0; t < result.targets.length; t++) {
        const target = result.targets[t]!;
        const subtask = subtasks.subtasks[target.subtask]!;
        await subtask.credits.acquire();
        const stampArray = stamps[t]!;
        subtask.post({ type: 'batch', split, records: target.records, exitMasks: target.exitMasks, stamps: stampArray }, [
          target.records.buffer as ArrayBuffer,
          target.exitMasks.buffer as ArrayBuffer,
          stampArray.buffer as ArrayBuffer,
        ]);
      }
    }
  }

  let wakeOnStop: (() => void) | undefined;
  const stopSignal = () =>
    stopped ? Promise.resolve('stopped' as const) : new Promise<'stopped'>((resolve) => (wakeOnStop = () => resolve('stopped')));
  options.signal?.addEventListener('abort', () => wakeOnStop?.(), { once: true });

  const idleMs = plan.watermarks?.idleMs ?? Number.POSITIVE_INFINITY;
  const idleCheck = setInterval(() => {
    const now = Date.now();
    splits.forEach((_, split) => {
      if (!idle[split] && now - lastActivity[split]! > idleMs) {
        idle[split] = true;
        subtasks.broadcast({ type: 'split-idle', split, idle: true });
      }
    });
  }, Math.max(50, Math.min(1000, idleMs / 4)));

  let lastStatus = { time: started, records: 0 };
  const statusTimer = options.onStatus
    ? setInterval(() => {
        const now = Date.now();
        const rate = ((recordsInTotal - lastStatus.records) * 1000) / Math.max(1, now - lastStatus.time);
        lastStatus = { time: now, records: recordsInTotal };
        const counters = mergeCounters(coordinatorMetrics.values(), decodeCounters, subtasks.counters());
        const watermark = Math.min(...splits.map((_, s) => ordered.splitWatermark(s)));
        options.onStatus!({ elapsedMs: now - started, recordsIn: recordsInTotal, recordsPerSecond: rate, watermark, counters });
      }, options.statusIntervalMs ?? 1000)
    : undefined;

  try {
    await Promise.race([subtasks.ready(), failed]);
    const readers = Promise.all(splits.map((split, index) => readSplit(split, index)));
    readers.catch(fail);
    await Promise.race([applyInOrder(), failed]);
    const finalCounters = await Promise.race([subtasks.finishAll(), failed]);
    const counters = mergeCounters(coordinatorMetrics.values(), decodeCounters, finalCounters);
    const summary = {
      job: jobName,
      ...nestCounters(counters),
      parallelism: options.parallelism,
      max_parallelism: options.maxParallelism,
      duration_ms: Date.now() - started,
      stopped,
    };
    await mkdir(options.outDir, { recursive: true });
    const summaryPath = join(options.outDir, '_summary.json');
    await writeFile(summaryPath, JSON.stringify(summary, null, 2) + '\n');
    return { jobName, summary, summaryPath, stopped };
  } finally {
    clearInterval(idleCheck);
    if (statusTimer) clearInterval(statusTimer);
    inFlight.drain();
    stopped = true;
    await subtasks.terminate(failure ?? new CoattailError('WORKER_FAILED', 'run ended'));
    await pool.destroy().catch(() => undefined);
  }
}

function mergeCounters(coordinator: Record<string, number>, decode: Record<string, number>, subtasks: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  addCounts(total, coordinator);
  addCounts(total, decode);
  for (const counters of subtasks) addCounts(total, counters);
  return total;
}

export type { PhysicalPlan };
