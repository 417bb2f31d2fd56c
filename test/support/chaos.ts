// A seeded kill -9 chaos sequence: runs of jobs/all.ts killed (or stopped with a savepoint) at chosen moments and
// restored at other parallelisms until one completes; its tables and counters must equal an uninterrupted run's.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { type CliResult, type RunningCli, seededRandom, sleep, startCli } from '../e2e/support/cli.js';
import { runArguments, storeOf, type RunPlace } from '../e2e/support/checkpointed-run.js';
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
  | { readonly kind: 'double-sigint'; readonly after: number };

export interface ChaosStep {
  readonly parallelism: number;
  /** `older`: `--restore chk-N` of a completed checkpoint older than the newest (when there is one). */
  readonly restore: 'latest' | 'older';
  readonly interruption: Interruption;
}

export interface ChaosPlan {
  readonly seed: number;
  readonly format: OutputFormat;
  readonly interval: string;
  readonly steps: readonly ChaosStep[];
  readonly finalParallelism: number;
  readonly finalRestore: 'latest' | 'older';
}

/** The plan of a seed: 2-5 interruptions at random parallelisms, then a run to the end. */
export function planSequence(seed: number, format?: OutputFormat): ChaosPlan {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const parallelism = (): number => 1 + Math.floor(random() * 4);
  const count = 2 + Math.floor(random() * 4);
  const steps: ChaosStep[] = [];
  for (let index = 0; index < count; index++) {
    const kinds: Array<Interruption['kind']> = ['early', 'checkpoint', 'checkpoint', 'mid-checkpoint', 'finishing', 'savepoint', 'stop-early', 'double-sigint'];
    if (index > 0) kinds.push('restoring', 'restoring');
    const kind = pick(kinds);
    const interruption: Interruption =
      kind === 'early'
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
        : i.kind === 'checkpoint'
          ? `chk+${i.after}+${i.delayMs}ms`
          : `${i.kind}@${i.after}`;
    return `p${s.parallelism}${s.restore === 'older' ? '/older' : ''}:${what}`;
  };
  return `seed ${plan.seed} ${plan.format} ${plan.interval} [${plan.steps.map(step).join(' ')}] -> p${plan.finalParallelism}${plan.finalRestore === 'older' ? '/older' : ''}`;
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
  interruption: Interruption,
  before: number,
): Promise<{ result: CliResult; note: string }> {
  const store = storeOf(place);
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
        const newest = newestCompleted(checkpointFolders(place.checkpointDir));
        note = `${interruption.delayMs} ms after the start${newest > before ? `, after chk-${newest}` : ', before any checkpoint of this run'}`;
        break;
      }
      case 'checkpoint':
      case 'double-sigint':
      case 'savepoint': {
        let seen = 0;
        let last = before;
        await until(running, async () => {
          const newest = newestCompleted(checkpointFolders(place.checkpointDir));
          if (newest > last) {
            if (await pastStart(newest)) seen += 1;
            last = newest;
          }
          return seen >= interruption.after;
        });
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
          () => {
            const folders = checkpointFolders(place.checkpointDir);
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
          const newest = newestCompleted(checkpointFolders(place.checkpointDir));
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
    if (error instanceof RunEnded) return { result: await ended(running, 'the run'), note: 'ended on its own before the moment' };
    throw error;
  }
  running.child.kill(signal);
  return { result: await ended(running, 'the run'), note: `${signal === 'SIGKILL' ? 'kill -9' : signal} ${note}`.trim() };
}

/** A completed checkpoint older than the newest that is not abandoned, picked by `random`; undefined if none. */
async function olderCheckpoint(place: RunPlace, random: () => number): Promise<number | undefined> {
  const store = storeOf(place);
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

/** Run the plan's sequence in `folder` on the tape (a `file:` path) and compare the end with the reference. */
export async function runSequence(plan: ChaosPlan, tape: string, reference: Reference, folder: string, tolerance: number): Promise<SequenceOutcome> {
  await mkdir(folder, { recursive: true });
  const place: RunPlace = { tape, outDir: path.join(folder, 'out'), checkpointDir: path.join(folder, 'checkpoints'), format: plan.format };
  const random = seededRandom(plan.seed ^ 0x5eed);
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
    const folders = checkpointFolders(place.checkpointDir);
    if (newestCompleted(folders) === 0) return [];
    if (wanted === 'older') {
      const older = await olderCheckpoint(place, random);
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
    const args = runArguments(place, step.parallelism, [...restore, '--retain', '4'], plan.interval);
    const what = `run ${index + 1} (p${step.parallelism} ${restore.join(' ') || 'fresh'})`;
    const before = newestCompleted(checkpointFolders(place.checkpointDir));
    const running = startCli(args);
    const { result, note } = await interrupt(running, place, interruption, before);
    const restored = /restoring checkpoint \d+ \(\d+ -> \d+ subtasks\)/.exec(result.stderr)?.[0];
    log.push(`${what}: ${note}${restored ? ` [${restored}]` : ''} -> ${result.signal ?? `exit ${result.code}`}`);
    if (result.signal === 'SIGKILL') continue;
    // A stop signal before the handlers are installed, or in the ~40 ms between a finished run removing them and
    // the process exiting, ends the process by the signal's default action: for the next run, a kill.
    if (result.signal === 'SIGINT' || result.signal === 'SIGTERM') continue;
    // A second SIGINT quits at once: as good as a kill for the next run.
    if (interruption.kind === 'double-sigint' && result.code === 130) continue;
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
    const args = runArguments(place, plan.finalParallelism, [...restore, '--retain', '4'], plan.interval);
    const what = `final run (p${plan.finalParallelism} ${restore.join(' ') || 'fresh'})`;
    const result = await ended(startCli(args), what);
    const restored = /restoring checkpoint \d+ \(\d+ -> \d+ subtasks\)/.exec(result.stderr)?.[0];
    log.push(`${what}${restored ? ` [${restored}]` : ''} -> ${result.signal ?? `exit ${result.code}`}`);
    expectExit(result, what, [0]);
    if (result.code !== 0) return { log, problems };
  }

  const differences = tableDifferences(await readTables(place.outDir, plan.format), reference.tables, tolerance);
  for (const [table, difference] of Object.entries(differences)) {
    problems.push(`${table}: ${difference.missing} missing, ${difference.extra} extra: ${difference.examples.join(' ; ')}`);
  }
  const summary = comparableSummary(await readSummary(place.outDir));
  const expected = comparableSummary(reference.summary);
  if (canonical(summary) !== canonical(expected)) problems.push(`_summary.json: ${JSON.stringify(summary)} != ${JSON.stringify(expected)}`);
  const hidden = await hiddenPartFiles(place.outDir);
  if (hidden.length > 0) problems.push(`hidden part files left: ${hidden.slice(0, 3).join(', ')}${hidden.length > 3 ? ` and ${hidden.length - 3} more` : ''}`);
  return { log, problems };
}
