// Checkpointed runs of jobs/all.ts for the end-to-end tests: argument lists, and stopping a run at a chosen moment.
import { openCheckpointStore, type CheckpointStore } from '../../../runtime/checkpoint/checkpoint-store.js';
import type { CheckpointMetadata } from '../../../runtime/checkpoint/metadata.js';
import path from 'node:path';
import { JOB_ALL, type CliResult, type RunningCli, runCliToEnd, sleep, startCli, waitWhileRunning } from './cli.js';
import { readSummary, readTables, type OutputFormat, type Tables } from './tables.js';

export interface RunPlace {
  /** The input file, read as `-s file:<tape>` unless `source` names another source. */
  readonly tape: string;
  readonly source?: string;
  readonly outDir: string;
  /** A folder or `s3://bucket/prefix`. */
  readonly checkpointDir: string;
  readonly format: OutputFormat;
  readonly s3Endpoint?: string;
  /** Another job file than jobs/all.ts, and the tables it writes. */
  readonly job?: string;
  readonly tables?: readonly string[];
}

/** `coattail run jobs/all.ts` (or the place's job) over the tape into the place, checkpointing every `interval`. */
export function runArguments(place: RunPlace, parallelism: number, extra: readonly string[] = [], interval = '200ms'): string[] {
  return [
    'run',
    place.job ?? JOB_ALL,
    '-s',
    place.source ?? `file:${place.tape}`,
    '-o',
    place.outDir,
    '-f',
    place.format,
    '-p',
    String(parallelism),
    '-q',
    '--checkpoint-dir',
    place.checkpointDir,
    '--checkpoint-interval',
    interval,
    ...(place.s3Endpoint ? ['--s3-endpoint', place.s3Endpoint] : []),
    ...extra,
  ];
}

/** The same job over the same tape with no checkpoints at all: the reference an interrupted run must match. */
export function uninterruptedArguments(tape: string, outDir: string, format: OutputFormat, parallelism: number): string[] {
  return ['run', JOB_ALL, '-s', `file:${tape}`, '-o', outDir, '-f', format, '-p', String(parallelism), '-q', '--no-checkpoints'];
}

/** Replays paced tapes 25x: a 30,000-event tape at 200 events a second of event time lasts about 6 s on any machine. */
export const PACED_SPEED: readonly string[] = ['--speed', '25'];

/**
 * A paced generator tape of 30,000 events with 2 % bad records (DLQ rows in every checkpoint's output), its event
 * time fixed, so a run can be stopped mid-tape at a chosen moment and its end still compared with another run's.
 */
export function pacedSource(seed: number): string {
  return `generator:events=30000,seed=${seed},bad=0.02,rate=200,start=${Date.UTC(2026, 1, 2, 8, 0, 0)}`;
}

/** Tables and summary under `folder/<name>-out`, checkpoints in `folder/<name>-checkpoints`, JSON Lines. */
export function placeFor(source: string, folder: string, name: string): RunPlace {
  return { tape: '', source, outDir: path.join(folder, `${name}-out`), checkpointDir: path.join(folder, `${name}-checkpoints`), format: 'jsonl' };
}

/** What an uninterrupted run of `source` at -p 2 writes (JSON Lines, no checkpoints): what interrupted runs must match. */
export async function uninterruptedRun(source: string, outDir: string, extra: readonly string[]): Promise<{ tables: Tables; summary: Record<string, unknown> }> {
  await runCliToEnd(['run', JOB_ALL, '-s', source, '-o', outDir, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints', ...extra]);
  return { tables: await readTables(outDir, 'jsonl'), summary: await readSummary(outDir) };
}

export function storeOf(place: RunPlace): CheckpointStore {
  return openCheckpointStore(place.checkpointDir, place.s3Endpoint);
}

/** The newest checkpoint with `_metadata`, or 0 when there is none. */
export async function newestCompletedId(store: CheckpointStore): Promise<number> {
  return Math.max(0, ...(await store.completedIds()));
}

/** Wait until this many checkpoints beyond those already stored have completed, the last past the tape's start, then `delayMs`. */
export interface CountedMoment {
  readonly afterCheckpoints: number;
  readonly delayMs: number;
}

/** Right after the first completed checkpoint whose metadata passes the test. */
export interface CheckpointMoment {
  readonly description: string;
  readonly checkpointWhere: (metadata: CheckpointMetadata) => boolean;
}

/** After the final checkpoint (every split read to its end), while the run finishes its tables. */
export const WHILE_FINISHING: CheckpointMoment = {
  description: 'the final checkpoint',
  checkpointWhere: (metadata) => metadata.splits.every((split) => split.ended),
};

/** The run ended on its own before the moment came: the test would prove nothing. */
export class MissedMoment extends Error {}

const PAST_START = (metadata: CheckpointMetadata): boolean => metadata.splits.some((split) => split.position !== undefined);

/**
 * Start a checkpointed run and send `signal` at the moment: SIGKILL (kill -9) or SIGINT (Ctrl-C).
 * Rejects with `MissedMoment` if the run ends before the moment comes.
 */
export async function stopRunAt(
  place: RunPlace,
  args: readonly string[],
  moment: CountedMoment | CheckpointMoment,
  signal: 'SIGKILL' | 'SIGINT' = 'SIGKILL',
): Promise<CliResult> {
  const store = storeOf(place);
  const before = await newestCompletedId(store);
  const counted = 'afterCheckpoints' in moment ? moment : undefined;
  // Under load the first checkpoints may come before any record was read: a counted moment insists on progress.
  const wanted = counted ? PAST_START : (moment as CheckpointMoment).checkpointWhere;
  const description = counted ? `checkpoint ${before + counted.afterCheckpoints} past the tape's start` : (moment as CheckpointMoment).description;
  const running: RunningCli = startCli(args);
  const reached = async (): Promise<boolean> => {
    const newest = await newestCompletedId(store);
    if (newest < before + (counted?.afterCheckpoints ?? 1)) return false;
    return wanted(await store.readMetadata(newest));
  };
  try {
    await waitWhileRunning(running, reached, description);
    if (counted) await sleep(counted.delayMs);
    if (running.exited()) throw new Error(`the run ended on its own before the ${signal}`);
  } catch (error) {
    throw new MissedMoment(error instanceof Error ? error.message : String(error));
  }
  running.child.kill(signal);
  const result = await running.done;
  if (signal === 'SIGKILL' && result.signal !== 'SIGKILL') {
    throw new MissedMoment(`the run ended with ${result.code} before kill -9 reached it: ${result.stderr.trim()}`);
  }
  return result;
}

/** `stopRunAt` in fresh places until the moment is caught, for moments a fast run may slip through. */
export async function stopRunAtWithRetries(
  newPlace: (attempt: number) => Promise<RunPlace>,
  args: (place: RunPlace) => string[],
  moment: CheckpointMoment,
  attempts = 3,
): Promise<RunPlace> {
  for (let attempt = 1; ; attempt++) {
    const place = await newPlace(attempt);
    try {
      await stopRunAt(place, args(place), moment);
      return place;
    } catch (error) {
      if (!(error instanceof MissedMoment) || attempt >= attempts) throw error;
    }
  }
}
