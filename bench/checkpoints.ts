// Checkpoint benchmarks through the CLI: duration and size by key count, restore time, and the throughput
// cost of checkpointing jobs/all.ts (interleaved rounds with and without checkpoints), printed as Markdown.
//
//   npm run build && node dist/bench/checkpoints.js [--only keys,throughput] [--rounds 3] [--keys 10000,100000,1000000]
//                                                   [--events 1000000] [--parallelism 2] [--markdown file.md]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSubtaskState } from '../runtime/checkpoint/subtask-state-file.js';
import { openCheckpointStore } from '../runtime/checkpoint/checkpoint-store.js';
import type { CheckpointMetadata } from '../runtime/checkpoint/metadata.js';
import { CLI, REPO_ROOT, median, runCli, runNodeProcess, type CliRun } from './run-process.js';

const KEYED_JOB = 'bench/jobs/keyed-state.ts';
const ALL_JOB = 'jobs/all.ts';
/** Long enough that the only checkpoint of a key-count run is the final one, taken with every key in state. */
const FINAL_ONLY = '1h';

const MiB = 1024 * 1024;
const totalCpuMs = (run: CliRun): number => run.sampled.threads.reduce((sum, thread) => sum + thread.cpuMs, 0);
const fixed = (value: number, digits = 0): string => value.toFixed(digits);

function writeKeyTape(file: string, keys: number): void {
  const lines: string[] = [];
  for (let index = 0; index < keys; index++) lines.push(`{"key":"key-${index}","amount":${(index % 977) / 4 + 1}}`);
  writeFileSync(file, lines.join('\n') + '\n');
}

async function newestMetadata(location: string): Promise<CheckpointMetadata> {
  const store = openCheckpointStore(location);
  const ids = await store.completedIds();
  if (ids.length === 0) throw new Error(`no completed checkpoint in ${location}`);
  return store.readMetadata(ids.at(-1)!);
}

function keyedArgs(tape: string, scratch: string, parallelism: number, extra: string[] = []): string[] {
  return ['run', KEYED_JOB, '-s', `file:${tape}`, '-o', join(scratch, 'out'), '-f', 'jsonl', '-p', String(parallelism), '-q',
    '--checkpoint-dir', join(scratch, 'checkpoints'), '--checkpoint-interval', FINAL_ONLY, ...extra];
}

interface KeyResult {
  readonly keys: number;
  readonly checkpointMs: number;
  readonly sizeBytes: number;
  readonly loadMs: number;
  /** Fastest restored run and fastest fresh run over an empty tape, from start until ready to read. */
  readonly restoredRunMs: number;
  readonly emptyRunMs: number;
}

/**
 * Milliseconds from starting the CLI until its final checkpoint was triggered. A run with nothing to read
 * triggers it as soon as its subtasks are ready, i.e. once any restored state is loaded into them.
 */
async function timeUntilReady(args: string[], checkpointDir: string): Promise<{ ms: number; metadata: CheckpointMetadata }> {
  const spawnedAt = Date.now();
  await runCli(args);
  const metadata = await newestMetadata(checkpointDir);
  return { ms: Date.parse(metadata.triggeredAt) - spawnedAt, metadata };
}

/**
 * Per key count and round: a run over one line per key whose final checkpoint holds every key; reading and
 * verifying that checkpoint in this process; a run restored from it (nothing left to read) and a fresh run
 * over an empty tape. Restore time = the difference of their times until ready. Minimums over rounds: on a
 * shared machine, load only ever adds.
 */
async function measureKeyCounts(keyCounts: number[], rounds: number, parallelism: number, work: string): Promise<KeyResult[]> {
  const empty = join(work, 'empty.jsonl');
  writeFileSync(empty, '');
  const results: KeyResult[] = [];
  for (const keys of keyCounts) {
    const tape = join(work, `keys-${keys}.jsonl`);
    writeKeyTape(tape, keys);
    const checkpointMs: number[] = [];
    const sizes: number[] = [];
    const loads: number[] = [];
    const restoredRuns: number[] = [];
    const emptyRuns: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const scratch = mkdtempSync(join(work, `keys-${keys}-`));
      const checkpoints = join(scratch, 'checkpoints');
      const { metadata: written } = await timeUntilReady(keyedArgs(tape, scratch, parallelism), checkpoints);
      checkpointMs.push(written.durationMs);
      sizes.push(written.sizeBytes);

      const loadStarted = performance.now();
      // As a restore opens it: subtask files checked, their key groups left encoded for the subtasks (decisions §34).
      await openCheckpointStore(checkpoints).load(written.checkpointId, openSubtaskState);
      loads.push(performance.now() - loadStarted);

      const emptyScratch = mkdtempSync(join(work, 'empty-'));
      emptyRuns.push((await timeUntilReady(keyedArgs(empty, emptyScratch, parallelism), join(emptyScratch, 'checkpoints'))).ms);
      const restoreArgs = keyedArgs(tape, scratch, parallelism, ['--restore', `chk-${written.checkpointId}`]);
      restoredRuns.push((await timeUntilReady(restoreArgs, checkpoints)).ms);
      rmSync(scratch, { recursive: true, force: true });
      rmSync(emptyScratch, { recursive: true, force: true });
    }
    rmSync(tape, { force: true });
    const result = {
      keys,
      checkpointMs: median(checkpointMs),
      sizeBytes: median(sizes),
      loadMs: median(loads),
      restoredRunMs: Math.min(...restoredRuns),
      emptyRunMs: Math.min(...emptyRuns),
    };
    results.push(result);
    process.stderr.write(`keys ${keys}: checkpoint ${result.checkpointMs} ms, ${fixed(result.sizeBytes / MiB, 1)} MiB, restore ${fixed(result.restoredRunMs - result.emptyRunMs)} ms\n`);
  }
  return results;
}

interface ThroughputRun {
  readonly checkpoints: boolean;
  readonly wallMs: number;
  readonly engineMs: number;
  readonly cpuMs: number;
  readonly completed: number;
  readonly meanCheckpointMs: number;
  readonly meanSizeBytes: number;
}

function allArgs(tape: string, scratch: string, parallelism: number, checkpoints: boolean): string[] {
  const base = ['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(scratch, 'out'), '-f', 'jsonl', '-p', String(parallelism), '-q'];
  return checkpoints
    ? [...base, '--checkpoint-dir', join(scratch, 'checkpoints'), '--checkpoint-interval', '1s', '--retain', '1000']
    : [...base, '--no-checkpoints'];
}

/** Rounds alternate which variant goes first (ABBA), so drift in machine load falls on both alike. */
async function measureThroughput(events: number, rounds: number, parallelism: number, work: string): Promise<ThroughputRun[]> {
  const tape = join(work, `all-${events}.jsonl`);
  await runNodeProcess(CLI, ['generate', '--events', String(events), '--seed', '1', '--out', tape]);
  const runs: ThroughputRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    for (const checkpoints of order) {
      const scratch = mkdtempSync(join(work, 'all-'));
      const run = await runCli(allArgs(tape, scratch, parallelism, checkpoints));
      let completed = 0;
      let meanCheckpointMs = 0;
      let meanSizeBytes = 0;
      if (checkpoints) {
        const store = openCheckpointStore(join(scratch, 'checkpoints'));
        const all = await Promise.all((await store.completedIds()).map((id) => store.readMetadata(id)));
        completed = all.length;
        meanCheckpointMs = all.reduce((sum, m) => sum + m.durationMs, 0) / Math.max(1, all.length);
        meanSizeBytes = all.reduce((sum, m) => sum + m.sizeBytes, 0) / Math.max(1, all.length);
      }
      runs.push({ checkpoints, wallMs: run.wallMs, engineMs: Number(run.summary.duration_ms), cpuMs: totalCpuMs(run), completed, meanCheckpointMs, meanSizeBytes });
      process.stderr.write(`round ${round + 1} ${checkpoints ? 'checkpoints 1s' : 'no checkpoints'}: ${fixed(events / (run.wallMs / 1000))} records/s\n`);
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return runs;
}

function keyTable(results: KeyResult[], parallelism: number, rounds: number): string {
  const rows = results.map(
    (r) =>
      `| ${r.keys.toLocaleString('en-US')} | ${r.checkpointMs} | ${fixed(r.sizeBytes / MiB, 1)} | ${fixed(r.sizeBytes / r.keys, 1)} | ${fixed(r.loadMs)} | ${fixed(r.restoredRunMs)} | ${fixed(r.emptyRunMs)} | **${fixed(r.restoredRunMs - r.emptyRunMs)}** |`,
  );
  return [
    `Key-count runs: \`node bin/coattail.js run ${KEYED_JOB} -s file:keys-N.jsonl -f jsonl -p ${parallelism} --checkpoint-dir <dir> --checkpoint-interval ${FINAL_ONLY}\``,
    `(one line per key; the only checkpoint is the final one, holding every key), then the same with \`--restore chk-N\`,`,
    `and the same over an empty tape. Restore = (start of the restored run until its subtasks are ready) - (the same for the empty run);`,
    `ready = when the run triggers its final checkpoint, which a run with nothing to read does at once. Checkpoint duration`,
    `and size: medians of ${rounds} rounds; times until ready: fastest of ${rounds}.`,
    '',
    '| keys | checkpoint duration (ms) | size (MiB) | bytes/key | read + verify in-process (ms) | restored run ready (ms) | empty run ready (ms) | restore (ms) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function throughputTable(runs: ThroughputRun[], events: number, parallelism: number): string {
  const pick = (checkpoints: boolean) => runs.filter((run) => run.checkpoints === checkpoints);
  const summarize = (selected: ThroughputRun[]) => ({
    medianRate: events / (median(selected.map((r) => r.wallMs)) / 1000),
    bestRate: events / (Math.min(...selected.map((r) => r.wallMs)) / 1000),
    engineRate: events / (median(selected.map((r) => r.engineMs)) / 1000),
    cpuMs: median(selected.map((r) => r.cpuMs)),
  });
  const off = summarize(pick(false));
  const on = summarize(pick(true));
  const withCheckpoints = pick(true);
  const line = (label: string, s: ReturnType<typeof summarize>, extra: string) =>
    `| ${label} | ${fixed(s.medianRate)} | ${fixed(s.bestRate)} | ${fixed(s.engineRate)} | ${fixed(s.cpuMs / 1000, 1)} | ${extra} |`;
  const checkpointColumns = `${fixed(median(withCheckpoints.map((r) => r.completed)))} | ${fixed(median(withCheckpoints.map((r) => r.meanCheckpointMs)))} | ${fixed(median(withCheckpoints.map((r) => r.meanSizeBytes)) / MiB, 1)}`;
  const rounds = runs.map((r) => `${r.checkpoints ? 'on' : 'off'} ${fixed(events / (r.wallMs / 1000))}`).join(', ');
  return [
    `\`node bin/coattail.js run ${ALL_JOB} -s file:<generate --events ${events} --seed 1> -f jsonl -p ${parallelism} -q\` plus either flag, ${withCheckpoints.length} interleaved rounds each (ABBA order).`,
    '',
    '| variant | records/s (median wall) | records/s (best wall) | records/s (median duration_ms) | CPU s, all threads (median) | checkpoints | mean duration (ms) | mean size (MiB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    line('`--no-checkpoints`', off, '- | - | -'),
    line('`--checkpoint-interval 1s`', on, checkpointColumns),
    '',
    `With checkpoints / without: ${fixed(on.medianRate / off.medianRate, 3)} (median wall), ${fixed(on.bestRate / off.bestRate, 3)} (best wall), ` +
      `${fixed(on.engineRate / off.engineRate, 3)} (median duration_ms); CPU time ${fixed(on.cpuMs / off.cpuMs, 3)}x.`,
    `Every round in order (records/s by wall time): ${rounds}.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      keys: { type: 'string', default: '10000,100000,1000000' },
      events: { type: 'string', default: '1000000' },
      parallelism: { type: 'string', default: String(availableParallelism()) },
      markdown: { type: 'string' },
    },
  });
  const only = values.only?.split(',') ?? ['keys', 'throughput'];
  const rounds = Number(values.rounds);
  const parallelism = Number(values.parallelism);
  const work = mkdtempSync(join(tmpdir(), 'coattail-bench-checkpoints-'));
  const sections: string[] = [
    `Machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => fixed(l, 1)).join(' ')} at start; repo ${REPO_ROOT}.`,
  ];
  try {
    if (only.includes('keys')) {
      const results = await measureKeyCounts(values.keys.split(',').map(Number), rounds, parallelism, work);
      sections.push(keyTable(results, parallelism, rounds));
    }
    if (only.includes('throughput')) {
      const events = Number(values.events);
      const runs = await measureThroughput(events, rounds, parallelism, work);
      sections.push(throughputTable(runs, events, parallelism));
    }
    sections.push(`Load average at the end: ${loadavg().map((l) => fixed(l, 1)).join(' ')}.`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const markdown = sections.join('\n\n') + '\n';
  process.stdout.write(markdown);
  if (values.markdown) writeFileSync(values.markdown, markdown);
}

await main();
