// Everything a run settles before any thread works: the job bundled and planned, the source's splits, the
// checkpoint storage reached and this attempt registered in it, and what a restore starts from.

import { randomUUID } from 'node:crypto';
import type { SplitDescriptor } from '../api/source.js';
import { CoattailError } from '../errors.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import { configDigests } from '../checkpoint/config-digest.js';
import { openCheckpointStore, type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { outputFileExists } from '../../connectors/sinks/output-file.js';
import { instantiatePlan, prepareLaunch } from './job-instance.js';
import { bundleJob } from './job-loader.js';
import type { JobLaunch } from './messages.js';
import { prepareRestore, type RestoredRun } from './restore-run.js';
import type { RunOptions } from './run-options.js';

export interface PreparedRun {
  readonly jobName: string;
  readonly plan: PhysicalPlan;
  /** What every subtask thread is launched with, the job's prepared configuration included. */
  readonly launch: JobLaunch;
  readonly splits: readonly SplitDescriptor[];
  readonly store?: CheckpointStore;
  /** Ids of the checkpoints already in the store; numbering goes on after the highest. */
  readonly existingCheckpoints: readonly number[];
  /** Names this run's files; registered in the store so that a later restore may remove its unfinished parts. */
  readonly attemptId: string;
  readonly configDigests?: Record<string, string>;
  readonly restored?: RestoredRun;
}

export async function prepareRun(options: RunOptions, log: (message: string) => void): Promise<PreparedRun> {
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
  const digests = launch.prepared === undefined ? undefined : configDigests(launch.prepared);
  const restored = options.restore !== undefined ? await prepareRestore(options, plan, splits, log, digests) : undefined;
  // Tables append, as Flink's file sink does; a second run into one folder is worth a line, since its
  // _summary.json will then count only its own rows (decisions §24).
  if (options.restore === undefined && (await outputFileExists(options.outDir, '_summary.json'))) {
    log(`${options.outDir} holds an earlier run's tables: this run adds its files beside them and replaces _summary.json (use another -o to keep results apart)`);
  }
  const attemptId = randomUUID().slice(0, 8);
  // Checkpoint storage is reached once before any thread works (as Flink sets it up at start): storage that
  // cannot be listed fails the run here, in one line. Later outages fail checkpoints, not the run (decisions §19).
  const existingCheckpoints = store ? await store.allIds() : [];
  // Before any sink writes a part: a later restore from this folder may then remove this run's unfinished parts.
  await store?.registerAttempt(attemptId);
  return {
    jobName,
    plan,
    launch,
    splits,
    ...(store ? { store } : {}),
    existingCheckpoints,
    attemptId,
    ...(digests ? { configDigests: digests } : {}),
    ...(restored ? { restored } : {}),
  };
}
