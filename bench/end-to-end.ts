// End-to-end benchmark: the parse-only baseline against jobs run through the coattail CLI over the same
// JSONL tape, in interleaved rounds on one machine, reporting lines/s, the ratio to the baseline, peak RSS
// and CPU time per thread (which stays meaningful on a loaded machine).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTrades } from './generate-trades.js';
import { parseFile } from './parse-baseline.js';
import { engineThreadCpu, steadyRate } from './process-sampler.js';
import { formatProfiles, summarizeProfileDir } from './profile-summary.js';
import { MiB, REPO_ROOT, median, runCli, runNodeProcess, type ProcessRun } from './run-process.js';

export interface Variant {
  readonly name: string;
  /** The job file (repo-relative); absent for the parse-only baseline. */
  readonly job?: string;
  readonly parallelism?: number;
  readonly decodeThreads?: number;
  readonly codec?: 'columnar' | 'msgpack' | 'structured-clone';
  /** false: `--no-pre-aggregate`, every record travels to its window. */
  readonly preAggregate?: false;
  /** Extra Node/V8 flags for the CLI process (they reach every worker thread), e.g. `--max-semi-space-size=32`. */
  readonly nodeArgs?: readonly string[];
  /** The issue's target: at least this many times the baseline's lines/s. */
  readonly targetRatio?: number;
}

const WINDOW_JOB = 'bench/jobs/window-count.ts';
const PARSE_JOB = 'bench/jobs/parse-only.ts';

export const DEFAULT_VARIANTS: readonly Variant[] = [
  { name: 'baseline' },
  { name: 'window-p1', job: WINDOW_JOB, parallelism: 1, targetRatio: 0.6 },
  { name: 'window-p2', job: WINDOW_JOB, parallelism: 2, targetRatio: 1.2 },
  { name: 'window-p1-decode1', job: WINDOW_JOB, parallelism: 1, decodeThreads: 1 },
  { name: 'window-p2-decode1', job: WINDOW_JOB, parallelism: 2, decodeThreads: 1 },
  // Every record to its window: the per-record path, and how the batch codecs compare on it.
  { name: 'window-p1-records', job: WINDOW_JOB, parallelism: 1, preAggregate: false },
  { name: 'window-p2-records', job: WINDOW_JOB, parallelism: 2, preAggregate: false },
  { name: 'window-p2-records-msgpack', job: WINDOW_JOB, parallelism: 2, preAggregate: false, codec: 'msgpack' },
  { name: 'window-p2-records-structured-clone', job: WINDOW_JOB, parallelism: 2, preAggregate: false, codec: 'structured-clone' },
  { name: 'parse-job-p2', job: PARSE_JOB, parallelism: 2 },
];

/** Rows for another job file (`--job`): at -p 1 and -p 2. */
export function jobVariants(job: string): Variant[] {
  const stem = basename(job).replace(/\.[jt]s$/, '');
  return [
    { name: `${stem}-p1`, job, parallelism: 1 },
    { name: `${stem}-p2`, job, parallelism: 2 },
  ];
}

/** Rows of the window job at -p 1 and -p 2 under extra Node flags (`--node-args`), to try V8 settings. */
export function nodeArgVariants(nodeArgs: readonly string[]): Variant[] {
  const suffix = nodeArgs.map((arg) => arg.replace(/^--/, '')).join(' ');
  return [
    { name: `window-p1 ${suffix}`, job: WINDOW_JOB, parallelism: 1, nodeArgs },
    { name: `window-p2 ${suffix}`, job: WINDOW_JOB, parallelism: 2, nodeArgs },
  ];
}

export interface EndToEndOptions {
  readonly events: number;
  readonly rounds: number;
  readonly only?: readonly string[];
  readonly jobs: readonly string[];
  /** Each entry adds window-job rows run with these Node flags. */
  readonly nodeArgs?: ReadonlyArray<readonly string[]>;
  /** An existing JSONL file instead of the generated tape. */
  readonly data?: string;
  readonly cpuProfile: boolean;
  readonly markdownPath: string;
}

interface Measurement {
  readonly linesPerSecond: number;
  /** Lines/s over the second half of the input: after start-up and JIT warm-up. */
  readonly steadyLinesPerSecond?: number;
  readonly engineLinesPerSecond?: number;
  readonly peakRssBytes: number;
  readonly childRssBytes: number;
  readonly cpuMs: Record<string, number>;
}

export interface VariantResult {
  readonly variant: Variant;
  readonly command: string;
  readonly runs: Measurement[];
}

function cliArgs(variant: Variant, data: string, outDir: string): string[] {
  const args = ['run', variant.job!, '-s', `file:${data}`, '-o', outDir, '-f', 'jsonl', '-p', String(variant.parallelism ?? 1), '-q'];
  if (variant.decodeThreads) args.push('--decode-threads', String(variant.decodeThreads));
  if (variant.codec) args.push('--codec', variant.codec);
  if (variant.preAggregate === false) args.push('--no-pre-aggregate');
  return args;
}

function commandOf(variant: Variant, data: string): string {
  if (!variant.job) return `node dist/bench/parse-baseline.js ${data}`;
  return `node ${(variant.nodeArgs ?? []).map((arg) => arg + ' ').join('')}bin/coattail.js ${cliArgs(variant, data, '<tmp>').join(' ')}`;
}

async function measure(variant: Variant, data: string, lines: number, nodeArgs: string[] = []): Promise<Measurement> {
  if (!variant.job) {
    const run = await runNodeProcess(join(REPO_ROOT, 'dist', 'bench', 'parse-baseline.js'), [data], { nodeArgs });
    const printed = JSON.parse(run.stdout) as { lines: number };
    if (printed.lines !== lines) throw new Error(`baseline parsed ${printed.lines} lines, expected ${lines}`);
    const [main, ...others] = run.sampled.threads;
    return measurement(run, lines, undefined, { main: main?.cpuMs ?? 0, other: others.reduce((sum, t) => sum + t.cpuMs, 0) });
  }
  const outDir = mkdtempSync(join(tmpdir(), 'coattail-bench-out-'));
  try {
    const run = await runCli(cliArgs(variant, data, outDir), { nodeArgs: [...(variant.nodeArgs ?? []), ...nodeArgs] });
    const recordsIn = run.summary.records_in;
    if (recordsIn !== lines) throw new Error(`${variant.name} read ${String(recordsIn)} records, expected ${lines}`);
    const durationMs = Number(run.summary.duration_ms);
    const decodeThreads = variant.decodeThreads ?? availableParallelism();
    const parallelism = variant.parallelism ?? 1;
    // With at least as many subtasks as decode threads, the subtask threads decode and there is no pool.
    const poolThreads = parallelism >= decodeThreads ? 0 : decodeThreads;
    return measurement(run, lines, durationMs, engineThreadCpu(run.sampled.threads, parallelism, poolThreads));
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function measurement(run: ProcessRun, lines: number, engineMs: number | undefined, cpuMs: Record<string, number>): Measurement {
  const steady = steadyRate(run.sampled.series, lines);
  return {
    linesPerSecond: (lines * 1000) / run.wallMs,
    ...(steady ? { steadyLinesPerSecond: steady } : {}),
    ...(engineMs ? { engineLinesPerSecond: (lines * 1000) / engineMs } : {}),
    peakRssBytes: run.sampled.peakRssBytes,
    childRssBytes: run.sampled.peakChildRssBytes,
    cpuMs,
  };
}

/** CPU ns per line by role: the coordinator (main), all decode threads, all subtasks, V8/libuv helpers, everything. */
function cpuPerLine(cpuMs: Record<string, number>, lines: number): Record<'main' | 'decode' | 'subtasks' | 'other' | 'total', number> {
  const sums = { main: 0, decode: 0, subtasks: 0, other: 0, total: 0 };
  for (const [label, ms] of Object.entries(cpuMs)) {
    sums.total += ms;
    if (label === 'main' || label === 'coordinator') sums.main += ms;
    else if (label.startsWith('decode')) sums.decode += ms;
    else if (label.startsWith('subtask')) sums.subtasks += ms;
    else sums.other += ms;
  }
  const ns = (ms: number) => (ms * 1e6) / lines;
  return { main: ns(sums.main), decode: ns(sums.decode), subtasks: ns(sums.subtasks), other: ns(sums.other), total: ns(sums.total) };
}

export async function runEndToEnd(options: EndToEndOptions): Promise<{ results: VariantResult[]; markdown: string }> {
  const file = options.data
    ? { path: resolve(options.data), lines: 0, bytes: 0 }
    : ensureTrades(join(REPO_ROOT, 'bench', 'data'), options.events);
  // --only picks default rows by name; the baseline and rows asked for with --job or --node-args always run.
  const defaults = options.only?.length ? DEFAULT_VARIANTS.filter((v) => !v.job || options.only!.includes(v.name)) : DEFAULT_VARIANTS;
  const variants = [...defaults, ...options.jobs.flatMap(jobVariants), ...(options.nodeArgs ?? []).flatMap(nodeArgVariants)];
  // A --data file of unknown length is counted by the baseline parser: non-empty lines, as the engine counts.
  const lines = file.lines || parseFile(file.path).lines;
  const results: VariantResult[] = variants.map((variant) => ({ variant, command: commandOf(variant, file.path), runs: [] }));
  const loadBefore = loadavg()[0]!;
  for (let round = 0; round < options.rounds; round++) {
    // Rotate the order each round so no variant always runs first (warm page cache, quiet moments).
    for (let k = 0; k < results.length; k++) {
      const result = results[(k + round) % results.length]!;
      const run = await measure(result.variant, file.path, lines);
      result.runs.push(run);
      process.stdout.write(
        `round ${round + 1}/${options.rounds} ${result.variant.name.padEnd(28)} ${Math.round(run.linesPerSecond).toLocaleString('en-US').padStart(10)} lines/s` +
          `  peak RSS ${(run.peakRssBytes / MiB).toFixed(0)} MiB  load ${loadavg()[0]!.toFixed(1)}\n`,
      );
    }
  }
  const loadAfter = loadavg()[0]!;
  if (options.cpuProfile) await profileVariants(results, file.path, lines);
  const markdown = renderMarkdown(results, { ...options, file: file.path, bytes: file.bytes, lines, loadBefore, loadAfter });
  mkdirSync(resolve(options.markdownPath, '..'), { recursive: true });
  writeFileSync(options.markdownPath, markdown);
  return { results, markdown };
}

/** One extra, untimed run per CLI variant under --cpu-prof; writes a per-thread summary next to the profiles. */
async function profileVariants(results: VariantResult[], data: string, lines: number): Promise<void> {
  for (const { variant } of results) {
    if (!variant.job) continue;
    const dir = join(REPO_ROOT, 'bench', 'data', 'profiles', variant.name.replace(/[^a-z0-9=.-]+/gi, '_'));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await measure(variant, data, lines, ['--cpu-prof', '--cpu-prof-dir', dir]);
    const summary = formatProfiles(summarizeProfileDir(dir), lines);
    writeFileSync(join(dir, 'summary.md'), summary);
    process.stdout.write(`profiles of ${variant.name}: ${dir}/summary.md\n`);
  }
}

interface RenderContext extends EndToEndOptions {
  readonly file: string;
  readonly bytes: number;
  readonly lines: number;
  readonly loadBefore: number;
  readonly loadAfter: number;
}

function renderMarkdown(results: VariantResult[], context: RenderContext): string {
  const baseline = results.find((r) => !r.variant.job);
  const baselineRate = baseline ? median(baseline.runs.map((r) => r.linesPerSecond)) : Number.NaN;
  const baselineSteadies = baseline ? baseline.runs.flatMap((r) => (r.steadyLinesPerSecond ? [r.steadyLinesPerSecond] : [])) : [];
  const baselineSteady = baselineSteadies.length ? median(baselineSteadies) : Number.NaN;
  const format = (n: number) => Math.round(n).toLocaleString('en-US');
  const rows = results.map(({ variant, runs }) => {
    const rates = runs.map((r) => r.linesPerSecond);
    const rate = median(rates);
    const ratio = rate / baselineRate;
    const target = variant.targetRatio ? `≥ ${variant.targetRatio}x: ${ratio >= variant.targetRatio ? '**met**' : '**missed**'}` : '';
    const engineRates = runs.flatMap((r) => (r.engineLinesPerSecond ? [r.engineLinesPerSecond] : []));
    const steadyRates = runs.flatMap((r) => (r.steadyLinesPerSecond ? [r.steadyLinesPerSecond] : []));
    const steady = steadyRates.length ? median(steadyRates) : Number.NaN;
    const cpu = cpuPerLine(medianCpu(runs.map((r) => r.cpuMs)), context.lines);
    const peak = Math.max(...runs.map((r) => r.peakRssBytes)) / MiB;
    const child = Math.max(...runs.map((r) => r.childRssBytes)) / MiB;
    const cpuCells = variant.job
      ? `${cpu.main.toFixed(0)} · ${cpu.decode > 0 ? cpu.decode.toFixed(0) : '–'} · ${cpu.subtasks.toFixed(0)} · ${cpu.other.toFixed(0)}`
      : `${cpu.main.toFixed(0)} · – · – · ${cpu.other.toFixed(0)}`;
    return (
      `| ${variant.name} | ${format(rate)} | ${format(Math.min(...rates))}–${format(Math.max(...rates))} | ` +
      `${engineRates.length ? format(median(engineRates)) : '–'} | ${ratio.toFixed(2)}x | ` +
      `${steadyRates.length ? format(steady) + (baselineSteady > 0 ? ` (${(steady / baselineSteady).toFixed(2)}x)` : '') : '–'} | ${target} | ` +
      `${peak.toFixed(0)}${child >= 1 ? ` (+${child.toFixed(0)})` : ''} | ${cpuCells} | ${cpu.total.toFixed(0)} |`
    );
  });
  const cpuInfo = cpus();
  return [
    `# End-to-end benchmark`,
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpuInfo.length} cores (${cpuInfo[0]?.model ?? 'unknown cpu'}) · Node ${process.version} · ` +
      `load average ${context.loadBefore.toFixed(1)} before, ${context.loadAfter.toFixed(1)} after`,
    '',
    `Input: ${context.lines.toLocaleString('en-US')} lines${context.bytes ? ` (${(context.bytes / 1e6).toFixed(0)} MB)` : ''}, ` +
      `${context.rounds} interleaved rounds; lines/s = lines / wall time of the whole process (start-up included), median of rounds.`,
    '',
    '| variant | lines/s | range | engine lines/s | × baseline | steady lines/s (× baseline) | target | peak RSS MiB | CPU ns/line main · decode · subtasks · helpers | CPU ns/line total |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|',
    ...rows,
    '',
    'Commands:',
    '',
    ...results.map((r) => `- ${r.variant.name}: \`${r.command}\``),
    '',
    'engine lines/s: from `duration_ms` in `_summary.json` (bundling and thread start-up included, Node start-up not). ' +
      'steady lines/s: while the second half of the file was read (50 % to 95 % of the bytes, from /proc/<pid>/io rchar), i.e. after start-up and JIT warm-up; ' +
      'the targets are judged on the whole-run ratio (× baseline). ' +
      'Peak RSS: VmHWM of the CLI process (worker threads share it); (+N): peak RSS of its child processes (esbuild). ' +
      'CPU ns/line: time on a CPU per thread from /proc/<pid>/task/<tid>/schedstat (sampled every 100 ms), divided by lines; decode and subtasks are summed over their threads (decode "–": the subtask threads decode, at -p ≥ decode threads) ' +
      '(told apart by creation order); helpers: V8 platform threads (concurrent and parallel GC, background compilation) and the libuv pool (file reads). ' +
      'On 2 idle cores, 2e9 / total CPU ns/line is the best lines/s a variant can reach. CPU time also inflates on a loaded machine (shared caches), less than wall time.',
    '',
  ].join('\n');
}

function medianCpu(samples: Array<Record<string, number>>): Record<string, number> {
  const labels = new Set(samples.flatMap((s) => Object.keys(s)));
  const result: Record<string, number> = {};
  for (const label of labels) result[label] = median(samples.map((s) => s[label] ?? 0));
  return result;
}

function parseArgs(argv: string[]): EndToEndOptions {
  const options = { events: 1_000_000, rounds: 3, only: [] as string[], jobs: [] as string[], nodeArgs: [] as string[][], data: undefined as string | undefined, cpuProfile: false,
    markdownPath: join(REPO_ROOT, 'bench', 'results', 'end-to-end.md') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const take = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    if (flag === '--events') options.events = Number(take());
    else if (flag === '--rounds') options.rounds = Number(take());
    else if (flag === '--only') options.only.push(...take().split(','));
    else if (flag === '--job') options.jobs.push(take());
    else if (flag === '--data') options.data = take();
    else if (flag === '--node-args') options.nodeArgs.push(take().split(/\s+/).filter(Boolean));
    else if (flag === '--cpu-prof') options.cpuProfile = true;
    else if (flag === '--markdown') options.markdownPath = resolve(take());
    else throw new Error(`unknown option ${flag}: use --events N --rounds R --only a,b --job FILE --node-args "FLAGS" --data FILE --cpu-prof --markdown FILE`);
  }
  if (!Number.isInteger(options.events) || options.events < 1) throw new Error('--events must be a whole number >= 1');
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a whole number >= 1');
  const { data, ...rest } = options;
  return data ? { ...rest, data } : rest;
}

export async function main(argv: string[]): Promise<void> {
  const { markdown } = await runEndToEnd(parseArgs(argv));
  process.stdout.write('\n' + markdown);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`end-to-end: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
