// Memory benchmark: with a sink 100x slower than the pipeline, peak RSS must not grow with the input
// (backpressure holds the source back); and a 1 GB input must run in under 1 GiB of RSS.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTrades } from './generate-trades.js';
import { MiB, REPO_ROOT, median, runCli, type CliRun } from './run-process.js';

const SLOW_JOB = 'bench/jobs/window-count-slow-sink.ts';
const WINDOW_JOB = 'bench/jobs/window-count.ts';
const GiB = 1024 * MiB;
const QUIT_GRACE_MS = 15_000;

export interface MemoryOptions {
  readonly sizes: readonly number[];
  /** How much slower than the pipeline's own pace the sink takes rows. */
  readonly slowdown: number;
  readonly parallelism: number;
  /** Stop (SIGINT: stop reading, finish what was read) a slow run after this long; 0: run to the end. */
  readonly capSeconds: number;
  /** Also run the window job over a generated file of about this many GB (0: skip). */
  readonly bigInputGb: number;
  readonly markdownPath: string;
}

interface Row {
  readonly label: string;
  readonly lines: number;
  readonly run: CliRun;
  readonly micros?: number;
}

async function runJob(job: string, data: string, parallelism: number, env: Record<string, string>, capSeconds = 0): Promise<CliRun> {
  const outDir = mkdtempSync(join(tmpdir(), 'coattail-bench-out-'));
  try {
    return await runCli(['run', job, '-s', `file:${data}`, '-o', outDir, '-f', 'jsonl', '-p', String(parallelism), '-q'], {
      env,
      // Finishing what was read can take long behind a very slow sink: after a grace period, quit at once.
      ...(capSeconds > 0 ? { interruptAfterMs: capSeconds * 1000, quitGraceMs: QUIT_GRACE_MS } : {}),
      sampleIntervalMs: 200,
    });
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

export async function runMemoryFlat(options: MemoryOptions): Promise<string> {
  const dataDir = join(REPO_ROOT, 'bench', 'data');
  const files = options.sizes.map((size) => ensureTrades(dataDir, size));
  const largest = files[files.length - 1]!;
  const rows: Row[] = [];
  const log = (row: Row) => {
    rows.push(row);
    process.stdout.write(`${row.label.padEnd(44)} peak RSS ${(row.run.sampled.peakRssBytes / MiB).toFixed(0)} MiB, ${(row.run.wallMs / 1000).toFixed(1)} s\n`);
  };
  // The pipeline's own pace, with the archive sink taking no time: the yardstick for "100x slower".
  const fast = await runJob(SLOW_JOB, largest.path, options.parallelism, { COATTAIL_BENCH_SINK_MICROS_PER_ROW: '0' });
  const pace = (largest.lines * 1000) / Number(fast.summary.duration_ms);
  log({ label: `fast sink, ${largest.lines} lines`, lines: largest.lines, run: fast });
  // Each subtask sleeps per row it archives; together they take rows at pace / slowdown.
  const micros = (options.slowdown * options.parallelism * 1e6) / pace;
  for (const file of files) {
    const run = await runJob(SLOW_JOB, file.path, options.parallelism, { COATTAIL_BENCH_SINK_MICROS_PER_ROW: String(micros) }, options.capSeconds);
    log({ label: `${options.slowdown}x slower sink, ${file.lines} lines`, lines: file.lines, run, micros });
  }
  let big: Row | undefined;
  if (options.bigInputGb > 0) {
    const lines = Math.round((options.bigInputGb * 1e9) / (largest.bytes / largest.lines));
    const file = ensureTrades(dataDir, lines);
    big = { label: `window job, ${(file.bytes / 1e9).toFixed(2)} GB input`, lines, run: await runJob(WINDOW_JOB, file.path, options.parallelism, {}) };
    log(big);
  }
  const markdown = render(options, rows, pace, micros, big);
  mkdirSync(resolve(options.markdownPath, '..'), { recursive: true });
  writeFileSync(options.markdownPath, markdown);
  return markdown;
}

function render(options: MemoryOptions, rows: Row[], pace: number, micros: number, big: Row | undefined): string {
  const slow = rows.filter((r) => r.micros !== undefined);
  const peaks = slow.map((r) => r.run.sampled.peakRssBytes);
  const growth = peaks[peaks.length - 1]! / peaks[0]!;
  const table = rows.map(({ label, lines, run }) => {
    const series = run.sampled.series.map((s) => s.rssBytes);
    const rowsArchived = (run.summary.rows as Record<string, number> | undefined)?.trade_archive;
    const recordsRead = run.summary.records_in;
    const end = run.interrupts === 0 ? 'finished' : run.interrupts === 1 ? 'stopped at cap, drained' : 'stopped at cap, quit while draining';
    return (
      `| ${label} | ${lines.toLocaleString('en-US')} | ${recordsRead === undefined ? '–' : Number(recordsRead).toLocaleString('en-US')} | ` +
      `${rowsArchived === undefined ? '–' : rowsArchived.toLocaleString('en-US')} | ${end} | ` +
      `${(run.wallMs / 1000).toFixed(1)} | ${(median(series) / MiB).toFixed(0)} | **${(run.sampled.peakRssBytes / MiB).toFixed(0)}** |`
    );
  });
  const flat = growth <= 1.15;
  return [
    '# Memory: flat RSS under a slow sink, peak RSS for a 1 GB input',
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpus().length} cores · Node ${process.version} · load average ${loadavg()[0]!.toFixed(1)} · -p ${options.parallelism}`,
    '',
    `Job \`${SLOW_JOB}\`: the window-count job plus an archive sink that receives every trade. Pipeline pace with an instant ` +
      `sink: ${Math.round(pace).toLocaleString('en-US')} lines/s; the slow sink sleeps ${micros.toFixed(0)} µs per row in each ` +
      `of ${options.parallelism} subtasks, i.e. takes rows ${options.slowdown}x slower than that.` +
      (options.capSeconds > 0
        ? ` Slow runs are stopped with SIGINT after ${options.capSeconds} s (the CLI stops reading and finishes what it read), ` +
          `and told to quit at once ${QUIT_GRACE_MS / 1000} s later if still draining (then it prints no summary: –).`
        : ''),
    '',
    '| run | input lines | records read | rows archived | end | wall s | median RSS MiB | peak RSS MiB |',
    '|---|---:|---:|---:|---|---:|---:|---:|',
    ...table,
    '',
    `Peak RSS with the slow sink grows ${growth.toFixed(2)}x from ${options.sizes[0]!.toLocaleString('en-US')} to ` +
      `${options.sizes[options.sizes.length - 1]!.toLocaleString('en-US')} input lines: target "RSS flat" ${flat ? '**met**' : '**missed**'} (≤ 1.15x counted as flat).` +
      (big
        ? ` 1 GB input: peak RSS ${(big.run.sampled.peakRssBytes / MiB).toFixed(0)} MiB, target < 1 GiB ${big.run.sampled.peakRssBytes < GiB ? '**met**' : '**missed**'}.`
        : ''),
    '',
    'Peak RSS: VmHWM of the CLI process (all worker threads share it), read at exit. Median RSS: sampled every 200 ms.',
    '',
  ].join('\n');
}

function parseArgs(argv: string[]): MemoryOptions {
  const options = { sizes: [100_000, 400_000], slowdown: 100, parallelism: 2, capSeconds: 60, bigInputGb: 1,
    markdownPath: join(REPO_ROOT, 'bench', 'results', 'memory-flat.md') };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--sizes') options.sizes = value.split(',').map(Number);
    else if (flag === '--slowdown') options.slowdown = Number(value);
    else if (flag === '-p' || flag === '--parallelism') options.parallelism = Number(value);
    else if (flag === '--cap-seconds') options.capSeconds = Number(value);
    else if (flag === '--big-gb') options.bigInputGb = Number(value);
    else if (flag === '--markdown') options.markdownPath = resolve(value);
    else throw new Error(`unknown option ${flag}: use --sizes 100000,400000 --slowdown 100 -p 2 --cap-seconds 60 --big-gb 1 --markdown FILE`);
  }
  if (options.sizes.length < 2 || options.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes needs two or more whole numbers');
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runMemoryFlat(parseArgs(process.argv.slice(2)))
    .then((markdown) => process.stdout.write('\n' + markdown))
    .catch((error: unknown) => {
      process.stderr.write(`memory-flat: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
