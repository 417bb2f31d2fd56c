// `npm run bench`: every benchmark in sequence, each writing its table to bench/results/.

import { runAllJobs } from './all-jobs.js';
import { runChannelThroughput } from './channel-throughput.js';
import { runEndToEnd } from './end-to-end.js';
import { runMemoryFlat } from './memory-flat.js';
import { runStageCosts } from './stage-costs.js';
import { runWarmUp } from './warm-up.js';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { REPO_ROOT } from './run-process.js';

async function main(): Promise<void> {
  const results = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const section = (title: string) => process.stdout.write(`\n=== ${title} ===\n`);

  section('channel throughput (benny)');
  process.stdout.write(await runChannelThroughput(join(results, 'channel-throughput.md')));

  section('stage costs (one thread, CPU time)');
  process.stdout.write(await runStageCosts({ job: 'bench/jobs/window-count.ts', events: 1_000_000, parallelism: 2, codec: 'columnar' }, join(results, 'stage-costs.md')));

  section('end to end (1M trades, 3 rounds)');
  const { markdown } = await runEndToEnd({ events: 1_000_000, rounds: 3, jobs: [], cpuProfile: false, markdownPath: join(results, 'end-to-end.md') });
  process.stdout.write(markdown);

  section('all detectors: jobs/all.ts against the parse-only baseline and the single-threaded reference (1M events, 3 rounds)');
  process.stdout.write(await runAllJobs({ events: 1_000_000, smallEvents: 250_000, slowRate: 50, rounds: 3, markdownPath: join(results, 'all-jobs.md') }));

  section('warm-up: fixed and marginal cost per run (prefixes of the 1M tapes, 3 rounds)');
  process.stdout.write(
    await runWarmUp({ suites: ['window', 'all'], sizes: [20, 10_000, 50_000, 250_000, 1_000_000], rounds: 3, parallelism: 2, markdownPath: join(results, 'warm-up.md') }),
  );

  section('memory (slow sink, 1 GB input)');
  process.stdout.write(
    await runMemoryFlat({ sizes: [100_000, 400_000], slowdown: 100, parallelism: 2, capSeconds: 60, bigInputGb: 1, markdownPath: join(results, 'memory-flat.md') }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
