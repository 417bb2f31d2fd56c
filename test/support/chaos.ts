// A seeded kill -9 chaos sequence: runs of jobs/all.ts killed (or stopped with a savepoint) at chosen moments and
// restored at other parallelisms until one completes; its tables and counters must equal an uninterrupted run's.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { checkpointIdOf, metadataKey } from '../../runtime/checkpoint/metadata.js';
import type { TestS3Server } from './s3-server.js';
import { downloadPrefix } from './s3-objects.js';
import { createSinkStreams, kinesisArguments, mergeOpenShards, readSinks, sinkDifferences, splitOpenShard, type ChaosKinesis, type KinesisSinks } from './chaos-kinesis.js';

import { type CliResult, type RunningCli, seededRandom, sleep, startCli } from '../e2e/support/cli.js';
import { runArguments, storeOf, type RunPlace } from '../e2e/support/checkpointed-run.js';
import type { CheckpointStore } from '../../runtime/checkpoint/checkpoint-store.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences, type OutputFormat, type Tables } from '../e2e/support/tables.js';

/** How a run of the sequence is interrupted. Moments are read off the checkpoint folder and stderr, not the clock alone. */
export type Interruption =
  /** kill -9 `delayMs` after the start, usually before the run's first checkpoint (or while a restore is starting). */
  | { readonly kind: 'early'; readonly delayMs: number }
  /** kill -9 `delayMs` after the `after`-th checkpoint this run completes past the tape's start. */
  | { readonly kind: 'checkpoint'; readonly after: number; readonly delayMs: number }
  /** kill -9 while the `after`-th checkpoint of this run is being written (its folder exists, its `_metadata` not yet). */
  | { readonly kind: 'mid-checkpoint'; readonly after: number }
  /** kill -9 `delayMs` after the final checkpoint (every split ended), while the run commits its last files. */
  | { readonly kind: 'finishing'; readonly delayMs: number }
  /** kill -9 `delayMs` after the restore step logged `restoring checkpoint` (the restored run has just begun). */
  | { readonly kind: 'restoring'; readonly delayMs: number }
  /** SIGINT after the `after`-th checkpoint: a savepoint, which the next run restores by name. */
  | { readonly kind: 'savepoint'; readonly after: number }
  /** SIGINT or SIGTERM `delayMs` after the start, whatever the run is doing (restoring, reading, finishing). */
  | { readonly kind: 'stop-early'; readonly signal: 'SIGINT' | 'SIGTERM'; readonly delayMs: number }
  /** SIGINT after the `after`-th checkpoint and again 1.1 s later if the run still runs: quit at once (exit 130). */
  | { readonly kind: 'double-sigint'; readonly after: number }
  /**
   * S3 only: after the `after`-th checkpoint the storage refuses or stalls connections until the run logs a failed
   * checkpoint, then serves again; the run goes on and is killed -9 `delayMs` after its next completed checkpoint.
   */
  | { readonly kind: 'outage'; readonly after: number; readonly mode: 'refuse' | 'stall'; readonly delayMs: number }
  /**
   * S3 only: the moment the `after`-th checkpoint's `_metadata` is seen, the storage stalls (the part commits of
   * that checkpoint and the uploads of the next are left in flight); kill -9 `delayMs` later, then it serves again.
   */
  | { readonly kind: 'stalled-kill'; readonly after: number; readonly delayMs: number }
  /**
   * S3 only: after the `after`-th checkpoint the storage stalls, SIGINT starts a savepoint that cannot finish, and a
   * second SIGINT 1.1 s later must quit at once (exit 130, docs/decisions.md §6); then the storage serves again.
   */
  | { readonly kind: 'sigint-stalled'; readonly after: number };

export interface ChaosStep {
  readonly parallelism: number;
  /** `older`: `--restore chk-N` of a completed checkpoint older than the newest (when there is one). */
  readonly restore: 'latest' | 'older';
  readonly interruption: Interruption;
}

/** Where checkpoints and tables go: the sequence's folder, or a prefix of the test S3 server. */
export type ChaosStorage = 'local' | 's3';

export interface ChaosPlan {
  readonly seed: number;
  readonly format: OutputFormat;
  /** Default `local`. */
  readonly storage?: ChaosStorage;
  readonly interval: string;
  readonly steps: readonly ChaosStep[];
  readonly finalParallelism: number;
  readonly finalRestore: 'latest' | 'older';
}

/** The plan of a seed: 2-5 interruptions at random parallelisms, then a run to the end. */
export function planSequence(seed: number, format?: OutputFormat, storage: ChaosStorage = 'local'): ChaosPlan {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const parallelism = (): number => 1 + Math.floor(random() * 4);
  const count = 2 + Math.floor(random() * 4);
  const steps: ChaosStep[] = [];
  for (let index = 0; index < count; index++) {
    const kinds: Array<Interruption['kind']> = ['early', 'checkpoint', 'checkpoint', 'mid-checkpoint', 'finishing', 'savepoint', 'stop-early', 'double-sigint'];
    if (index > 0) kinds.push('restoring', 'restoring');
    if (storage === 's3') kinds.push('outage', 'stalled-kill', 'stalled-kill', 'sigint-stalled');
    const kind = pick(kinds);
    const interruption: Interruption =
      kind === 'outage'
        ? { kind, after: 1 + Math.floor(random() * 4), mode: random() < 0.7 ? 'refuse' : 'stall', delayMs: Math.floor(random() * 100) }
        : kind === 'stalled-kill'
          ? { kind, after: 1 + Math.floor(random() * 5), delayMs: Math.floor(random() * 300) }
          : kind === 'sigint-stalled'
            ? { kind, after: 1 + Math.floor(random() * 4) }
            : kind === 'early'
        ? { kind, delayMs: 100 + Math.floor(random() * 1200) }
        : kind === 'checkpoint'
          ? { kind, after: 1 + Math.floor(random() * 6), delayMs: Math.floor(random() * 120) }
          : kind === 'mid-checkpoint'
            ? { kind, after: 1 + Math.floor(random() * 6) }
            : kind === 'finishing'
              ? { kind, delayMs: Math.floor(random() * 40) }
              : kind === 'restoring'
                ? { kind, delayMs: Math.floor(random() * 150) }
                : kind === 'stop-early'
                  ? { kind, signal: random() < 0.5 ? 'SIGINT' : 'SIGTERM', delayMs: 100 + Math.floor(random() * 2500) }
                  : { kind, after: 1 + Math.floor(random() * 5) };
    steps.push({ parallelism: parallelism(), restore: random() < 0.2 ? 'older' : 'latest', interruption });
  }
  const interval = pick(['50ms', '100ms', '200ms']);
  return {
    seed,
    format: format ?? (random() < 0.3 ? 'parquet' : 'jsonl'),
    ...(storage === 's3' ? { storage } : {}),
    interval,
    steps,
    finalParallelism: parallelism(),
    finalRestore: random() < 0.2 ? 'older' : 'latest',
  };
}

export function describePlan(plan: ChaosPlan): string {
  const step = (s: ChaosStep): string => {
    const i = s.interruption;
    const what =
      i.kind === 'early' || i.kind === 'finishing' || i.kind === 'restoring'
        ? `${i.kind}+${i.delayMs}ms`
        : i.kind === 'stop-early'
          ? `${i.signal}+${i.delayMs}ms`
        : i.kind === 'checkpoint' || i.kind === 'stalled-kill'
          ? `${i.kind === 'checkpoint' ? 'chk' : 'stalled-kill'}+${i.after}+${i.delayMs}ms`
          : i.kind === 'outage'
            ? `outage-${i.mode}@${i.after}+${i.delayMs}ms`
            : `${i.kind}@${i.after}`;
    return `p${s.parallelism}${s.restore === 'older' ? '/older' : ''}:${what}`;
  };
  return `seed ${plan.seed} ${plan.format}${plan.storage === 's3' ? ' s3' : ''} ${plan.interval} [${plan.steps.map(step).join(' ')}] -> p${plan.finalParallelism}${plan.finalRestore === 'older' ? '/older' : ''}`;
}

export interface Reference {
  readonly tables: Tables;
  readonly summary: Record<string, unknown>;
}

export interface SequenceOutcome {
  /** What each run did, in order, e.g. `p3 --restore latest: killed after chk-7 (restoring checkpoint 5)`. */
  readonly log: string[];
  /** Empty when the final tables, counters and folder equal the reference's. */
  readonly problems: string[];
}

/** A run that takes longer than this has hung (the runs of a chaos tape take seconds). */
const RUN_LIMIT_MS = 180_000;

/** Checkpoint folders on disk: id -> whether `_metadata` exists. Cheaper to poll than the store's recursive listing. */
function checkpointFolders(checkpointDir: string): Map<number, boolean> {
  const folders = new Map<number, boolean>();
  let names: string[];
  try {
    names = readdirSync(checkpointDir);
  } catch {
    return folders;
  }
  for (const name of names) {
    const id = /^chk-(\d+)$/.exec(name)?.[1];
    if (id !== undefined) folders.set(Number(id), existsSync(path.join(checkpointDir, name, '_metadata')));
  }
  return folders;
}

/** Checkpoint folders, id -> whether `_metadata` exists, as one poll sees them: on disk or in the bucket. */
type CheckpointWatch = () => Promise<Map<number, boolean>>;

function watchCheckpoints(place: RunPlace, store: CheckpointStore): CheckpointWatch {
  if (!place.checkpointDir.startsWith('s3://')) return async () => checkpointFolders(place.checkpointDir);
  return async () => {
    const folders = new Map<number, boolean>();
    for (const key of await store.storage.list('')) {
      const id = checkpointIdOf(key);
      if (id !== undefined) folders.set(id, folders.get(id) === true || key === metadataKey(id));
    }
    return folders;
  };
}

/** `coattail: checkpoint N failed and was aborted: ...` lines so far. */
const failedCheckpoints = (stderr: string): number => stderr.match(/^coattail: checkpoint \d+ failed and was aborted/gm)?.length ?? 0;

/** The last line of stderr says the storage at `endpoint` could not be reached. */
function storageFailure(stderr: string, endpoint: string): boolean {
  const last = stderr.trim().split('\n').at(-1) ?? '';
  return last.includes(endpoint) && /cannot reach|stopped answering/.test(last);
}

/** How long a run may take to quit after a second SIGINT, which must quit at once. */
const QUIT_LIMIT_MS = 10_000;

const newestCompleted = (folders: Map<number, boolean>): number => Math.max(0, ...[...folders].filter(([, done]) => done).map(([id]) => id));

class RunEnded extends Error {}

/** Poll until `condition` holds; throws `RunEnded` once the process has exited, and a hang past the limit. */
async function until(running: RunningCli, condition: () => Promise<boolean> | boolean, pollMs = 10): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (running.exited()) throw new RunEnded();
    if (await Promise.resolve(condition()).catch(() => false)) return;
    if (Date.now() - started > RUN_LIMIT_MS) {
      running.child.kill('SIGKILL');
      throw new Error(`hang: the moment did not come within ${RUN_LIMIT_MS} ms; the run was killed`);
    }
    await sleep(pollMs);
  }
}

/** Wait for the process to end; a process that outlives the limit is killed and reported as a hang. */
async function ended(running: RunningCli, what: string): Promise<CliResult> {
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    running.child.kill('SIGKILL');
  }, RUN_LIMIT_MS);
  const result = await running.done;
  clearTimeout(timer);
  if (hung) throw new Error(`hang: ${what} was killed by the chaos runner after ${RUN_LIMIT_MS} ms: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  return result;
}

/** Wait for the interruption's moment and act; returns how the run ended. */
async function interrupt(
  running: RunningCli,
  place: RunPlace,
  store: CheckpointStore,
  server: TestS3Server | undefined,
  interruption: Interruption,
  before: number,
): Promise<{ result: CliResult; note: string }> {
  const watch = watchCheckpoints(place, store);
  const storage = (): TestS3Server => {
    if (server === undefined) throw new Error(`the ${interruption.kind} interruption needs S3 storage`);
    return server;
  };
  /** Until the `after`-th completed checkpoint past the tape's start of this run; its id. */
  const nthCheckpoint = async (after: number): Promise<number> => {
    let seen = 0;
    let last = before;
    await until(running, async () => {
      const newest = newestCompleted(await watch());
      if (newest > last) {
        if (await pastStart(newest)) seen += 1;
        last = newest;
      }
      return seen >= after;
    });
    return last;
  };
  let stalled = false;
  const pastStart = async (id: number): Promise<boolean> => (await store.readMetadata(id)).splits.some((split) => split.position !== undefined || split.ended);
  let signal: 'SIGKILL' | 'SIGINT' | 'SIGTERM' = 'SIGKILL';
  let note = '';
  try {
    switch (interruption.kind) {
      case 'stop-early': {
        const start = Date.now();
        await until(running, () => Date.now() - start >= interruption.delayMs, 5);
        signal = interruption.signal;
        note = `${interruption.delayMs} ms after the start`;
        break;
      }
      case 'early': {
        const start = Date.now();
        await until(running, () => Date.now() - start >= interruption.delayMs, 5);
        const newest = newestCompleted(await watch());
        note = `${interruption.delayMs} ms after the start${newest > before ? `, after chk-${newest}` : ', before any checkpoint of this run'}`;
        break;
      }
      case 'outage': {
        const server = storage();
        const last = await nthCheckpoint(interruption.after);
        const failedBefore = failedCheckpoints(running.stderr());
        await server.pause(interruption.mode);
        try {
          await until(running, () => failedCheckpoints(running.stderr()) > failedBefore, 20);
        } finally {
          await server.resume();
        }
        const resumedAt = newestCompleted(await watch());
        await until(running, async () => newestCompleted(await watch()) > resumedAt);
        await sleep(interruption.delayMs);
        note = `${interruption.delayMs} ms after the first checkpoint past a ${interruption.mode} outage that began after chk-${last}`;
        break;
      }
      case 'stalled-kill': {
        const last = await nthCheckpoint(interruption.after);
        await storage().pause('stall');
        stalled = true;
        await sleep(interruption.delayMs);
        note = `${interruption.delayMs} ms into a storage stall that began as chk-${last} completed`;
        break;
      }
      case 'sigint-stalled': {
        const server = storage();
        const last = await nthCheckpoint(interruption.after);
        await server.pause('stall');
        try {
          running.child.kill('SIGINT');
          await sleep(1100);
          if (running.exited()) return { result: await ended(running, 'the run'), note: `SIGINT after chk-${last} into a stall, ended before a second one` };
          running.child.kill('SIGINT');
          const quit = await Promise.race([running.done, sleep(QUIT_LIMIT_MS).then(() => undefined)]);
          if (quit === undefined) {
            running.child.kill('SIGKILL');
            throw new Error(`hang: a second SIGINT during a stalled savepoint did not quit within ${QUIT_LIMIT_MS} ms`);
          }
          return { result: quit, note: `SIGINT again 1.1 s after a SIGINT after chk-${last}, the savepoint stalled` };
        } finally {
          await server.resume();
        }
      }
      case 'checkpoint':
      case 'double-sigint':
      case 'savepoint': {
        const last = await nthCheckpoint(interruption.after);
        if (interruption.kind === 'checkpoint') await sleep(interruption.delayMs);
        else signal = 'SIGINT';
        if (interruption.kind === 'double-sigint') {
          running.child.kill('SIGINT');
          await sleep(1100);
          if (running.exited()) return { result: await ended(running, 'the run'), note: `SIGINT after chk-${last}, ended before a second one` };
          note = `again 1.1 s after a SIGINT after chk-${last}`;
        } else {
          note = `after chk-${last}`;
        }
        break;
      }
      case 'mid-checkpoint': {
        let started = 0;
        let caught = -1;
        await until(
          running,
          async () => {
            const folders = await watch();
            const incomplete = [...folders].filter(([id, done]) => id > before && !done).map(([id]) => id);
            const newStarted = Math.max(0, ...folders.keys());
            if (newStarted > started && newStarted > before) started = newStarted;
            if (incomplete.length > 0 && started - before >= interruption.after) {
              caught = incomplete[0]!;
              return true;
            }
            return false;
          },
          2,
        );
        note = `while writing chk-${caught}`;
        break;
      }
      case 'finishing': {
        await until(running, async () => {
          const newest = newestCompleted(await watch());
          if (newest <= before) return false;
          return (await store.readMetadata(newest)).splits.every((split) => split.ended);
        }, 5);
        await sleep(interruption.delayMs);
        note = 'after the final checkpoint';
        break;
      }
      case 'restoring':
        await until(running, () => running.stderr().includes('restoring checkpoint'), 5);
        await sleep(interruption.delayMs);
        note = 'just after the restore step';
        break;
    }
  } catch (error) {
    if (stalled) await server?.resume();
    if (error instanceof RunEnded) return { result: await ended(running, 'the run'), note: 'ended on its own before the moment' };
    throw error;
  }
  running.child.kill(signal);
  const result = await ended(running, 'the run');
  if (stalled) await server?.resume();
  return { result, note: `${signal === 'SIGKILL' ? 'kill -9' : signal} ${note}`.trim() };
}

/** A completed checkpoint older than the newest that is not abandoned, picked by `random`; undefined if none. */
async function olderCheckpoint(store: CheckpointStore, random: () => number): Promise<number | undefined> {
  const abandoned = await store.abandonedIds();
  const usable = (await store.completedIds()).filter((id) => !abandoned.has(id));
  if (usable.length < 2) return undefined;
  return usable[Math.floor(random() * (usable.length - 1))];
}

/** JSON with keys sorted at every level. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

/** What a sequence reads, and where its S3 storage is. */
export interface ChaosInput {
  /** The `-s` source: `file:<tape>` or a finite `generator:events=N,seed=S[,bad=R]`. */
  readonly source: string;
  /** Relative difference allowed in fractional numbers (several-file sources interleave differently). */
  readonly tolerance: number;
  /** The test S3 server, for plans with `storage: 's3'`: checkpoints and tables go under a prefix named after the folder. */
  readonly s3?: TestS3Server;
  /** A `kinesis:` source: its servers, the DLQ stream's and alerts table's reference contents, and whether to reshard. */
  readonly kinesis?: KinesisChaosInput;
  /** Another job file than jobs/all.ts (a multi-stage job, say) and the tables it writes. */
  readonly job?: { readonly path: string; readonly tables: readonly string[] };
}

export interface KinesisChaosInput {
  readonly at: ChaosKinesis;
  /** The source stream (shared by the sequences; a split keeps its contents). */
  readonly stream: string;
  readonly reference: KinesisSinks;
  /** Split one open shard of the stream before this run (1 = the second run, `steps.length` the final run), if given. */
  readonly reshardBefore?: number;
  /** How to reshard: split a shard (the default) or merge two adjacent ones. */
  readonly reshard?: 'split' | 'merge';
}

/** Summary row counts keyed `kinesis:<name>-dlq` / `dynamodb:<name>-alerts` with the per-run name left out. */
export function withoutSinkNames(summary: Record<string, unknown>): Record<string, unknown> {
  const rows = summary.rows as Record<string, number> | undefined;
  if (rows === undefined) return summary;
  const renamed = Object.entries(rows).map(([name, count]) => [name.replace(/^(kinesis|dynamodb):.*-(dlq|alerts)$/, '$1:$2'), count]);
  return { ...summary, rows: Object.fromEntries(renamed) };
}

/** Run the plan's sequence in `folder` (and its S3 prefix) and compare the end with the reference. */
export async function runSequence(plan: ChaosPlan, input: ChaosInput, reference: Reference, folder: string): Promise<SequenceOutcome> {
  await mkdir(folder, { recursive: true });
  const server = plan.storage === 's3' ? input.s3 : undefined;
  if (plan.storage === 's3' && server === undefined) throw new Error('an S3 plan needs the test S3 server');
  const prefix = `chaos/${path.basename(folder)}`;
  const job = input.job ? { job: input.job.path, tables: input.job.tables } : {};
  const place: RunPlace = server
    ? {
        ...job,
        tape: input.source,
        source: input.source,
        outDir: `s3://${server.bucket}/${prefix}/out`,
        checkpointDir: `s3://${server.bucket}/${prefix}/checkpoints`,
        format: plan.format,
        s3Endpoint: server.endpoint,
      }
    : { ...job, tape: input.source, source: input.source, outDir: path.join(folder, 'out'), checkpointDir: path.join(folder, 'checkpoints'), format: plan.format };
  // Outages must fail checkpoints, not the job.
  const always = ['--retain', '4', ...(server ? ['--tolerable-failed-checkpoints', '1000'] : [])];
  if (input.kinesis) {
    const name = `chaos-${path.basename(folder)}-${Date.now().toString(36)}`;
    await createSinkStreams(input.kinesis.at, name);
    always.push(...kinesisArguments(input.kinesis.at, name));
    const kinesis = input.kinesis;
    const store = storeOf(place);
    try {
      const outcome = await runSteps(plan, place, store, server, reference, folder, input.tolerance, always, kinesis);
      if (outcome.log.length > 0 && !outcome.problems.some((problem) => / ended with /.test(problem))) {
        const sinks = await readSinks(kinesis.at, name);
        const again = sinks.dlq.length - new Set(sinks.dlq).size;
        outcome.log.push(`DLQ stream: ${sinks.dlq.length} records, ${again} of them sent again; alerts table: ${sinks.alerts.length} items`);
        outcome.problems.push(...sinkDifferences(sinks, kinesis.reference));
      }
      return outcome;
    } finally {
      await store.storage.close?.();
    }
  }
  const store = storeOf(place);
  try {
    return await runSteps(plan, place, store, server, reference, folder, input.tolerance, always);
  } finally {
    await store.storage.close?.();
  }
}

async function runSteps(
  plan: ChaosPlan,
  place: RunPlace,
  store: CheckpointStore,
  server: TestS3Server | undefined,
  reference: Reference,
  folder: string,
  tolerance: number,
  always: readonly string[],
  kinesis?: KinesisChaosInput,
): Promise<SequenceOutcome> {
  const watch = watchCheckpoints(place, store);
  const random = seededRandom(plan.seed ^ 0x5eed);
  // Before which restored run (1 = the second run) a shard of the Kinesis stream is split, if at all.
  const reshardRandom = seededRandom(plan.seed ^ 0x4b15);
  const reshardBefore = kinesis?.reshardBefore === undefined ? undefined : Math.min(kinesis.reshardBefore, plan.steps.length);
  const reshard = async (runIndex: number): Promise<string> => {
    if (kinesis === undefined || runIndex !== reshardBefore) return '';
    if (kinesis.reshard === 'merge') return ` (after merging ${await mergeOpenShards(kinesis.at, kinesis.stream, reshardRandom())})`;
    return ` (after splitting ${await splitOpenShard(kinesis.at, kinesis.stream, reshardRandom())})`;
  };
  const log: string[] = [];
  const problems: string[] = [];
  let savepoint: number | undefined;
  let finished = false;

  /** The `--restore` arguments for the next run: the savepoint by name, an older checkpoint, latest, or none. */
  const restoreArguments = async (wanted: 'latest' | 'older'): Promise<string[]> => {
    if (savepoint !== undefined) {
      const id = savepoint;
      savepoint = undefined;
      return ['--restore', `chk-${id}`];
    }
    if (newestCompleted(await watch()) === 0) return [];
    if (wanted === 'older') {
      const older = await olderCheckpoint(store, random);
      if (older !== undefined) return ['--restore', `chk-${older}`];
    }
    return ['--restore', 'latest'];
  };

  const expectExit = (result: CliResult, what: string, allowed: ReadonlyArray<number | 'SIGKILL'>): void => {
    const how = result.signal ?? result.code;
    if (!allowed.includes(how as number | 'SIGKILL')) problems.push(`${what} ended with ${how}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  };

  for (const [index, step] of plan.steps.entries()) {
    const restore = await restoreArguments(step.restore);
    const interruption = step.interruption.kind === 'restoring' && restore.length === 0 ? ({ kind: 'early', delayMs: 300 } as const) : step.interruption;
    const args = runArguments(place, step.parallelism, [...restore, ...always], plan.interval);
    const what = `run ${index + 1} (p${step.parallelism} ${restore.join(' ') || 'fresh'})${await reshard(index)}`;
    const before = newestCompleted(await watch());
    const running = startCli(args);
    const { result, note } = await interrupt(running, place, store, server, interruption, before);
    const restored = /restoring checkpoint \d+ \(\d+ -> \d+ subtasks\)/.exec(result.stderr)?.[0];
    log.push(`${what}: ${note}${restored ? ` [${restored}]` : ''} -> ${result.signal ?? `exit ${result.code}`}`);
    if (result.signal === 'SIGKILL') continue;
    // A stop signal before the handlers are installed, or in the ~40 ms between a finished run removing them and
    // the process exiting, ends the process by the signal's default action: for the next run, a kill.
    if (result.signal === 'SIGINT' || result.signal === 'SIGTERM') continue;
    // A second SIGINT quits at once: as good as a kill for the next run.
    if ((interruption.kind === 'double-sigint' || interruption.kind === 'sigint-stalled') && result.code === 130) continue;
    // An outage longer than the S3 client's retries fails a table upload or commit, and with it the job (only
    // checkpoints are tolerated, --tolerable-failed-checkpoints): for the next run, a crash like a kill.
    if (interruption.kind === 'outage' && result.code === 1 && server && storageFailure(result.stderr, server.endpoint)) {
      log[log.length - 1] += ' (a table write failed during the outage)';
      continue;
    }
    if (result.code === 0) {
      const named = /^savepoint chk-(\d+) written to/m.exec(result.stdout);
      if (named) {
        savepoint = Number(named[1]);
        continue;
      }
      // Stopped before there was anything to save (e.g. while restoring): the next run restores latest again.
      if (/^stopped /m.test(result.stdout)) continue;
    }
    expectExit(result, what, [0]);
    if (result.code !== 0) return { log, problems };
    // The run reached the end of the tape before its moment: the sequence is complete.
    finished = true;
    break;
  }

  if (!finished) {
    const restore = await restoreArguments(plan.finalRestore);
    const args = runArguments(place, plan.finalParallelism, [...restore, ...always], plan.interval);
    const what = `final run (p${plan.finalParallelism} ${restore.join(' ') || 'fresh'})${await reshard(plan.steps.length)}`;
    const result = await ended(startCli(args), what);
    const restored = /restoring checkpoint \d+ \(\d+ -> \d+ subtasks\)/.exec(result.stderr)?.[0];
    log.push(`${what}${restored ? ` [${restored}]` : ''} -> ${result.signal ?? `exit ${result.code}`}`);
    expectExit(result, what, [0]);
    if (result.code !== 0) return { log, problems };
  }

  let outDir = place.outDir;
  if (server) {
    outDir = path.join(folder, 'out-from-s3');
    await downloadPrefix(server.endpoint, server.bucket, `chaos/${path.basename(folder)}/out`, outDir);
  }
  const differences = tableDifferences(await readTables(outDir, plan.format, place.tables), reference.tables, tolerance);
  for (const [table, difference] of Object.entries(differences)) {
    problems.push(`${table}: ${difference.missing} missing, ${difference.extra} extra: ${difference.examples.join(' ; ')}`);
  }
  const summary = withoutSinkNames(comparableSummary(await readSummary(outDir)));
  const expected = withoutSinkNames(comparableSummary(reference.summary));
  if (canonical(summary) !== canonical(expected)) problems.push(`_summary.json: ${JSON.stringify(summary)} != ${JSON.stringify(expected)}`);
  const hidden = await hiddenPartFiles(outDir);
  if (hidden.length > 0) problems.push(`hidden part files left: ${hidden.slice(0, 3).join(', ')}${hidden.length > 3 ? ` and ${hidden.length - 3} more` : ''}`);
  return { log, problems };
}
