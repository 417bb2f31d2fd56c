// The chaos campaign behind `node scripts/chaos.mjs`: many seeded kill -9 sequences over the chaos tapes, one line each.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { JOB_ALL, runCliToEnd } from '../e2e/support/cli.js';
import { readSummary, readTables, type OutputFormat } from '../e2e/support/tables.js';
import { describePlan, planSequence, runSequence, type Reference } from './chaos.js';
import { makeChaosTape, TAPE_SHAPES, type ChaosTape, type TapeShape } from './chaos-tapes.js';

interface CampaignOptions {
  readonly seeds: readonly number[];
  readonly shapes: readonly TapeShape[];
  readonly events: number;
  readonly format: OutputFormat | undefined;
  readonly workDir: string | undefined;
}

const USAGE = 'usage: node scripts/chaos.mjs [--seeds 1-20|3,7] [--shapes plain,duplicates,...] [--events N] [--format jsonl|parquet] [--work DIR]';

function parseOptions(argv: readonly string[]): CampaignOptions {
  const value = (flag: string): string | undefined => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const seedText = value('--seeds') ?? '1-10';
  const seeds = seedText.split(',').flatMap((part) => {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) return Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, k) => Number(range[1]) + k);
    if (/^\d+$/.test(part)) return [Number(part)];
    throw new Error(`--seeds ${seedText}: expected numbers and ranges such as 1-20,33\n${USAGE}`);
  });
  const shapes = (value('--shapes')?.split(',') ?? [...TAPE_SHAPES]) as TapeShape[];
  for (const shape of shapes) if (!TAPE_SHAPES.includes(shape)) throw new Error(`--shapes: unknown shape ${shape} (${TAPE_SHAPES.join(', ')})\n${USAGE}`);
  const format = value('--format') as OutputFormat | undefined;
  if (format !== undefined && format !== 'jsonl' && format !== 'parquet') throw new Error(`--format ${format}: jsonl or parquet\n${USAGE}`);
  return { seeds, shapes, events: Number(value('--events') ?? 120_000), format, workDir: value('--work') };
}

/** Runs the campaign; resolves to the number of failed sequences. Failed sequences keep their folders. */
export async function runCampaign(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  const workDir = options.workDir ?? (await mkdtemp(path.join(os.tmpdir(), 'coattail-chaos-')));
  await mkdir(workDir, { recursive: true });
  const tapes = new Map<TapeShape, ChaosTape>();
  const references = new Map<string, Reference>();
  let failed = 0;
  const started = Date.now();
  for (const seed of options.seeds) {
    const shape = options.shapes[seed % options.shapes.length]!;
    const plan = planSequence(seed, options.format);
    if (!tapes.has(shape)) tapes.set(shape, await makeChaosTape(path.join(workDir, 'tapes'), shape, 1000 + TAPE_SHAPES.indexOf(shape), options.events));
    const tape = tapes.get(shape)!;
    const referenceKey = `${shape}-${plan.format}`;
    if (!references.has(referenceKey)) {
      const outDir = path.join(workDir, `reference-${referenceKey}`);
      await runCliToEnd(['run', JOB_ALL, '-s', `file:${tape.path}`, '-o', outDir, '-f', plan.format, '-p', '2', '-q', '--no-checkpoints']);
      references.set(referenceKey, { tables: await readTables(outDir, plan.format), summary: await readSummary(outDir) });
    }
    const folder = path.join(workDir, `seed-${seed}`);
    const sequenceStart = Date.now();
    let outcome;
    try {
      outcome = await runSequence(plan, tape.path, references.get(referenceKey)!, folder, tape.tolerance);
    } catch (error) {
      outcome = { log: [], problems: [`runner: ${error instanceof Error ? error.message : String(error)}`] };
    }
    const ok = outcome.problems.length === 0;
    if (!ok) failed += 1;
    const seconds = ((Date.now() - sequenceStart) / 1000).toFixed(1);
    process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${shape.padEnd(10)} ${describePlan(plan)} (${seconds} s)\n`);
    for (const line of outcome.log) process.stdout.write(`       ${line}\n`);
    for (const problem of outcome.problems) process.stdout.write(`     ! ${problem}\n`);
    if (ok) await rm(folder, { recursive: true, force: true });
    else process.stdout.write(`     kept ${folder}\n`);
  }
  process.stdout.write(
    `${options.seeds.length - failed}/${options.seeds.length} sequences clean in ${((Date.now() - started) / 1000).toFixed(0)} s; work folder ${workDir}\n`,
  );
  return failed;
}
