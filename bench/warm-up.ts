// Fixed and marginal cost: a job and its single-threaded baseline on prefixes of one tape, so that what a run
// costs splits into what it pays whatever its length (Node and thread start-up, compiling and optimizing the
// code in every isolate) and what each further event costs once the code is warm. It explains why whole-run
// ratios on 1M-event tapes sit below the steady-state ones the other benchmarks report.

import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTape } from './all-jobs.js';
import { ensureTrades } from './generate-trades.js';
import { REPO_ROOT, median, runCli, runNodeProcess } from './run-process.js';

type SuiteName = 'window' | 'all';

export interface WarmUpOptions {
  readonly suites: readonly SuiteName[];
  /** Prefix lengths, ascending; the marginal cost comes from the last two. */
  readonly sizes: readonly number[];
  readonly rounds: number;
  readonly parallelism: number;
  readonly markdownPath: string;
}

interface Suite {
  readonly name: SuiteName;
  readonly title: string;
  readonly job: string;
  readonly baselineName: string;
  readonly baselineScript: string;
  readonly tape: string;
}

interface Measured {
  readonly wallMs: number;
  readonly cpuMs: number;
}

const DATA = join(REPO_ROOT, 'bench', 'data');

async function suiteOf(name: SuiteName): Promise<Suite> {
  if (name === 'window') {
    return {
      name,
      title: 'keyed window job (bench/jobs/window-count.ts) against the parse-only baseline',
      job: 'bench/jobs/window-count.ts',
      baselineName: 'parse-only baseline',
      baselineScript: join(REPO_ROOT, 'dist', 'bench', 'parse-baseline.js'),
      tape: ensureTrades(DATA, 1_000_000).path,
    };
  }
  // The parse-only baseline stops at the first malformed line, and this tape has them: the reference reads it all.
  const tape = (await ensureTape(1_000_000)).path;
  return {
    name,
    title: 'jobs/all.ts against the single-threaded reference (bench/baselines/reference.ts)',
    job: 'jobs/all.ts',
    baselineName: 'single-threaded reference',
    baselineScript: join(REPO_ROOT, 'dist', 'bench', 'baselines', 'reference.js'),
    tape,
  };
}

/** The first `lines` lines of `tape` in a file of their own (kept in bench/data for later runs). */
function prefixOf(tape: string, lines: number): string {
  const path = join(DATA, `${basename(tape, '.jsonl')}-head-${lines}.jsonl`);
  if (existsSync(path)) return path;
  const partial = `${path}.partial-${process.pid}`;
  const input = openSync(tape, 'r');
  const output = openSync(partial, 'w');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let left = lines;
    for (let bytesRead; left > 0 && (bytesRead = readSync(input, chunk, 0, chunk.length, null)) > 0; ) {
      let end = 0;
      while (left > 0 && end < bytesRead) {
        const newline = chunk.indexOf(10, end);
        if (newline < 0 || newline >= bytesRead) {
          end = bytesRead;
          break;
        }
        end = newline + 1;
        left--;
      }
      writeSync(output, chunk, 0, end);
    }
    if (left > 0) throw new Error(`${tape} has fewer than ${lines} lines`);
  } finally {
    closeSync(input);
    closeSync(output);
  }
  renameSync(partial, path);
  return path;
}

function cpuOf(threads: ReadonlyArray<{ cpuMs: number }>): number {
  return threads.reduce((sum, thread) => sum + thread.cpuMs, 0);
}

async function measureBaseline(suite: Suite, tape: string): Promise<Measured> {
  const run = await runNodeProcess(suite.baselineScript, [tape]);
  if (run.exitCode !== 0) throw new Error(`${suite.baselineName} failed on ${tape}: ${run.stderr.trim()}`);
  return { wallMs: run.wallMs, cpuMs: cpuOf(run.sampled.threads) };
}

async function measureEngine(suite: Suite, tape: string, parallelism: number): Promise<Measured> {
  const out = mkdtempSync(join(tmpdir(), 'coattail-warm-up-'));
  try {
    const run = await runCli(['run', suite.job, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', String(parallelism), '--no-checkpoints', '-q']);
    return { wallMs: run.wallMs, cpuMs: cpuOf(run.sampled.threads) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

interface Fit {
  /** Cost per further event between the two largest sizes. */
  readonly marginalNs: number;
  /** The largest run's cost minus its events at the marginal cost: what a run costs whatever its length. */
  readonly fixedMs: number;
}

function fit(sizes: readonly number[], costs: readonly number[]): Fit {
  const last = sizes.length - 1;
  const marginalNs = ((costs[last]! - costs[last - 1]!) * 1e6) / (sizes[last]! - sizes[last - 1]!);
  return { marginalNs, fixedMs: costs[last]! - (marginalNs * sizes[last]!) / 1e6 };
}

interface SuiteResult {
  readonly suite: Suite;
  readonly baseline: Measured[];
  readonly engine: Measured[];
}

async function runSuite(suite: Suite, options: WarmUpOptions): Promise<SuiteResult> {
  const tapes = options.sizes.map((size) => prefixOf(suite.tape, size));
  const runs = new Map<string, Measured[]>();
  const add = (key: string, measured: Measured) => runs.set(key, [...(runs.get(key) ?? []), measured]);
  for (let round = 0; round < options.rounds; round++) {
    // Baseline and engine alternate at every size, so drifting machine load falls on both alike.
    for (let i = 0; i < tapes.length; i++) {
      const engineFirst = (round + i) % 2 === 0;
      const order = engineFirst ? ['engine', 'baseline'] : ['baseline', 'engine'];
      for (const kind of order) {
        const measured = kind === 'engine' ? await measureEngine(suite, tapes[i]!, options.parallelism) : await measureBaseline(suite, tapes[i]!);
        add(`${kind}:${i}`, measured);
        process.stdout.write(`${suite.name} ${kind} ${options.sizes[i]} events: ${measured.wallMs.toFixed(0)} ms wall, ${measured.cpuMs.toFixed(0)} ms CPU\n`);
      }
    }
  }
  const medianOf = (key: string): Measured => {
    const list = runs.get(key)!;
    return { wallMs: median(list.map((m) => m.wallMs)), cpuMs: median(list.map((m) => m.cpuMs)) };
  };
  return {
    suite,
    baseline: options.sizes.map((_, i) => medianOf(`baseline:${i}`)),
    engine: options.sizes.map((_, i) => medianOf(`engine:${i}`)),
  };
}

const count = (n: number) => n.toLocaleString('en-US');
const ms = (n: number) => count(Math.round(n));

function renderSuite(result: SuiteResult, options: WarmUpOptions): string[] {
  const { suite, baseline, engine } = result;
  const sizes = options.sizes;
  const engineName = `${suite.job} -p ${options.parallelism}`;
  const rows = sizes.map(
    (size, i) =>
      `| ${count(size)} | ${ms(baseline[i]!.wallMs)} | ${ms(baseline[i]!.cpuMs)} | ${ms(engine[i]!.wallMs)} | ${ms(engine[i]!.cpuMs)} | ` +
      `${(baseline[i]!.wallMs / engine[i]!.wallMs).toFixed(2)}x |`,
  );
  const fits = [
    { name: suite.baselineName, wall: fit(sizes, baseline.map((m) => m.wallMs)), cpu: fit(sizes, baseline.map((m) => m.cpuMs)), smallest: baseline[0]! },
    { name: engineName, wall: fit(sizes, engine.map((m) => m.wallMs)), cpu: fit(sizes, engine.map((m) => m.cpuMs)), smallest: engine[0]! },
  ];
  const largest = sizes[sizes.length - 1]!;
  const engineFit = fits[1]!;
  const fixedShare = (100 * engineFit.cpu.fixedMs) / engine[engine.length - 1]!.cpuMs;
  return [
    `## ${suite.title}`,
    '',
    `Prefixes of \`${basename(suite.tape)}\`; medians of ${options.rounds} rounds.`,
    '',
    `| events | ${suite.baselineName}: wall ms | CPU ms | ${engineName}: wall ms | CPU ms | engine rate × baseline |`,
    '|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `| | smallest run (${count(sizes[0]!)} events): wall ms · CPU ms | fixed part (extrapolated to 0 events): wall ms · CPU ms | marginal: wall ns/event · CPU ns/event |`,
    '|---|---:|---:|---:|',
    ...fits.map(
      (f) =>
        `| ${f.name} | ${ms(f.smallest.wallMs)} · ${ms(f.smallest.cpuMs)} | ${ms(f.wall.fixedMs)} · ${ms(f.cpu.fixedMs)} | ` +
        `${f.wall.marginalNs.toFixed(0)} · ${f.cpu.marginalNs.toFixed(0)} |`,
    ),
    '',
    `The fixed part is ${fixedShare.toFixed(0)} % of the engine's CPU at ${count(largest)} events. The marginal cost comes from the last ` +
      `two sizes (${count(sizes[sizes.length - 2]!)} and ${count(largest)} events); what the fixed part holds beyond the smallest run is ` +
      'warm-up: code interpreted and compiled in every isolate before it runs optimized.',
    '',
  ];
}

export async function runWarmUp(options: WarmUpOptions): Promise<string> {
  const results: SuiteResult[] = [];
  const loadBefore = loadavg()[0]!;
  for (const name of options.suites) results.push(await runSuite(await suiteOf(name), options));
  const markdown = [
    '# Warm-up: fixed and marginal cost per run',
    '',
    `${new Date().toISOString().slice(0, 10)} · Node ${process.version} · load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after. ` +
      'Wall time of the whole process; CPU of all its threads (/proc schedstat), which moves less with machine load.',
    '',
    ...results.flatMap((result) => renderSuite(result, options)),
    `Reproduce: \`node dist/bench/warm-up.js --suites ${options.suites.join(',')} --sizes ${options.sizes.join(',')} --rounds ${options.rounds} -p ${options.parallelism}\``,
    '',
  ].join('\n');
  mkdirSync(resolve(options.markdownPath, '..'), { recursive: true });
  writeFileSync(options.markdownPath, markdown);
  return markdown;
}

function parseArgs(argv: readonly string[]): WarmUpOptions {
  const options = {
    suites: ['window', 'all'] as SuiteName[],
    sizes: [20, 10_000, 50_000, 250_000, 1_000_000],
    rounds: 3,
    parallelism: 2,
    markdownPath: join(REPO_ROOT, 'bench', 'results', 'warm-up.md'),
  };
  const usage = 'use --suites window,all --sizes 20,10000,50000,250000,1000000 --rounds N -p N --markdown FILE';
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value: ${usage}`);
    if (flag === '--suites') options.suites = value.split(',').map((s) => s.trim()) as SuiteName[];
    else if (flag === '--sizes') options.sizes = value.split(',').map(Number);
    else if (flag === '--rounds') options.rounds = Number(value);
    else if (flag === '-p' || flag === '--parallelism') options.parallelism = Number(value);
    else if (flag === '--markdown') options.markdownPath = resolve(value);
    else throw new Error(`unknown option ${flag}: ${usage}`);
  }
  if (options.suites.some((s) => s !== 'window' && s !== 'all')) throw new Error(`--suites takes window and/or all: ${usage}`);
  const ascending = options.sizes.every((size, i) => Number.isInteger(size) && size > 0 && (i === 0 || size > options.sizes[i - 1]!));
  if (options.sizes.length < 2 || !ascending) throw new Error(`--sizes needs at least two ascending positive integers: ${usage}`);
  if (!(options.sizes[options.sizes.length - 1]! <= 1_000_000)) throw new Error(`--sizes are prefixes of 1M-event tapes: at most 1000000`);
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error(`--rounds must be a positive integer: ${usage}`);
  if (!Number.isInteger(options.parallelism) || options.parallelism < 1) throw new Error(`-p must be a positive integer: ${usage}`);
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  Promise.resolve()
    .then(() => runWarmUp(parseArgs(process.argv.slice(2))))
    .then((markdown) => process.stdout.write(markdown))
    .catch((error: unknown) => {
      process.stderr.write(`warm-up: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
