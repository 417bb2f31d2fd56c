// The chaos campaign behind `node scripts/chaos.mjs`: many seeded kill -9 sequences over the chaos tapes, one line each.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { JOB_ALL, runCliToEnd } from '../e2e/support/cli.js';
import { readSummary, readTables, type OutputFormat } from '../e2e/support/tables.js';
import { describePlan, planSequence, runSequence, type ChaosInput, type ChaosStorage, type Reference } from './chaos.js';
import { makeChaosTape, TAPE_SHAPES, type ChaosTape, type TapeShape } from './chaos-tapes.js';
import { startS3Server, type TestS3Server } from './s3-server.js';
import { createSinkStreams, kinesisArguments, loadTapeStream, readSinks, startChaosKinesis, type ChaosKinesis, type KinesisSinks } from './chaos-kinesis.js';

/** What the sequences read: the chaos tapes (`file:`), or the finite generator at a few seeds and bad-record rates. */
type ChaosSourceKind = 'tapes' | 'generator' | 'kinesis';

/** Generator inputs, cycled by seed: `generator:events=N,seed=S[,bad=R]`. */
const GENERATOR_VARIANTS: ReadonlyArray<{ readonly name: string; readonly seed: number; readonly bad?: number }> = [
  { name: 'gen-plain', seed: 71 },
  { name: 'gen-bad', seed: 72, bad: 0.05 },
  { name: 'gen-bad2', seed: 73, bad: 0.01 },
];

interface CampaignOptions {
  readonly seeds: readonly number[];
  readonly shapes: readonly TapeShape[];
  readonly events: number;
  readonly format: OutputFormat | undefined;
  readonly storage: ChaosStorage;
  readonly source: ChaosSourceKind;
  readonly workDir: string | undefined;
  /** `--job FILE --tables a,b`: another job than jobs/all.ts. */
  readonly job: { readonly path: string; readonly tables: readonly string[] } | undefined;
}

const USAGE =
  'usage: node scripts/chaos.mjs [--seeds 1-20|3,7] [--shapes plain,duplicates,...] [--events N] [--format jsonl|parquet] [--storage local|s3] [--source tapes|generator|kinesis] [--work DIR] [--job FILE --tables a,b]';

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
  const storage = (value('--storage') ?? 'local') as ChaosStorage;
  if (storage !== 'local' && storage !== 's3') throw new Error(`--storage ${storage}: local or s3\n${USAGE}`);
  const source = (value('--source') ?? 'tapes') as ChaosSourceKind;
  if (source !== 'tapes' && source !== 'generator' && source !== 'kinesis') throw new Error(`--source ${source}: tapes, generator or kinesis\n${USAGE}`);
  const jobFile = value('--job');
  const tables = value('--tables')?.split(',').filter((table) => table !== '');
  if ((jobFile === undefined) !== (tables === undefined)) throw new Error(`--job and --tables go together (the tables the job writes)\n${USAGE}`);
  const job = jobFile && tables ? { path: path.resolve(jobFile), tables } : undefined;
  if (job && source === 'kinesis') throw new Error(`--job with --source kinesis: the Kinesis sequences check the detectors' DLQ stream and alerts table\n${USAGE}`);
  return { seeds, shapes, events: Number(value('--events') ?? 120_000), format, storage, source, workDir: value('--work'), job };
}

/** Runs the campaign; resolves to the number of failed sequences. Failed sequences keep their folders. */
export async function runCampaign(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  const workDir = options.workDir ?? (await mkdtemp(path.join(os.tmpdir(), 'coattail-chaos-')));
  await mkdir(workDir, { recursive: true });
  const tapes = new Map<TapeShape, ChaosTape>();
  const references = new Map<string, Reference>();
  // kinesalite and dynalite first: their start sets this process's test credentials, which s3rver's start replaces with
  // the ones s3rver accepts (the other two accept any).
  const kinesis: ChaosKinesis | undefined = options.source === 'kinesis' ? await startChaosKinesis() : undefined;
  const s3: TestS3Server | undefined = options.storage === 's3' ? await startS3Server('coattail-chaos') : undefined;
  /** The Kinesis input: the `files` tape in a three-shard stream, shared by the sequences (a split keeps its contents). */
  let kinesisStream: string | undefined;
  let kinesisTolerance = 0;
  const kinesisSinks = new Map<string, KinesisSinks>();
  const jobInput = options.job ? { job: options.job } : {};
  /**
   * Another job's windows may pre-aggregate per chunk, and a restored run cuts its chunks at the checkpoint's offset:
   * its sums may differ in the last digits (decisions §29b).
   */
  const jobTolerance = (tolerance: number) => (options.job ? Math.max(tolerance, 1e-9) : tolerance);
  /** The input of a seed and its name in the report. */
  const inputOf = async (seed: number): Promise<{ name: string; input: ChaosInput }> => {
    if (kinesis) {
      if (kinesisStream === undefined) {
        const tape = await makeChaosTape(path.join(workDir, 'tapes'), 'files', 1000 + TAPE_SHAPES.indexOf('files'), options.events);
        kinesisStream = 'chaos-trades';
        await loadTapeStream(kinesis, tape.path, kinesisStream);
        kinesisTolerance = tape.tolerance;
      }
      const source = `kinesis:${kinesisStream}`;
      // The reference's sinks are filled by the reference run below; the map entry is read when the sequence runs.
      const input: ChaosInput = {
        source,
        tolerance: kinesisTolerance,
        ...(s3 ? { s3 } : {}),
        kinesis: {
          at: kinesis,
          stream: kinesisStream,
          get reference() {
            return kinesisSinks.get('reference')!;
          },
          // Even seeds reshard before one of the restored runs: seeds 2, 6, 10... split a shard, 4, 8, 12... merge two.
          ...(seed % 2 === 0 ? { reshardBefore: 1 + (Math.floor(seed / 2) % 3), reshard: seed % 4 === 0 ? 'merge' : 'split' } : {}),
        },
      };
      return { name: 'kinesis', input };
    }
    if (options.source === 'generator') {
      const variant = GENERATOR_VARIANTS[seed % GENERATOR_VARIANTS.length]!;
      const source = `generator:events=${options.events},seed=${variant.seed}${variant.bad === undefined ? '' : `,bad=${variant.bad}`}`;
      return { name: variant.name, input: { source, tolerance: jobTolerance(0), ...(s3 ? { s3 } : {}), ...jobInput } };
    }
    const shape = options.shapes[seed % options.shapes.length]!;
    if (!tapes.has(shape)) tapes.set(shape, await makeChaosTape(path.join(workDir, 'tapes'), shape, 1000 + TAPE_SHAPES.indexOf(shape), options.events));
    const tape = tapes.get(shape)!;
    return { name: shape, input: { source: `file:${tape.path}`, tolerance: jobTolerance(tape.tolerance), ...(s3 ? { s3 } : {}), ...jobInput } };
  };
  let failed = 0;
  const started = Date.now();
  try {
    for (const seed of options.seeds) {
      const plan = planSequence(seed, options.format, options.storage);
      const { name: shape, input } = await inputOf(seed);
      const referenceKey = `${shape}-${plan.format}`;
      if (!references.has(referenceKey)) {
        const outDir = path.join(workDir, `reference-${referenceKey}`);
        const kinesisExtra: string[] = [];
        if (kinesis) {
          const name = `reference-${plan.format}`;
          await createSinkStreams(kinesis, name);
          kinesisExtra.push(...kinesisArguments(kinesis, name));
        }
        await runCliToEnd(['run', options.job?.path ?? JOB_ALL, '-s', input.source, '-o', outDir, '-f', plan.format, '-p', '2', '-q', '--no-checkpoints', ...kinesisExtra]);
        if (kinesis && !kinesisSinks.has('reference')) kinesisSinks.set('reference', await readSinks(kinesis, `reference-${plan.format}`));
        references.set(referenceKey, { tables: await readTables(outDir, plan.format, options.job?.tables), summary: await readSummary(outDir) });
      }
      const folder = path.join(workDir, `seed-${seed}`);
      const sequenceStart = Date.now();
      let outcome;
      try {
        outcome = await runSequence(plan, input, references.get(referenceKey)!, folder);
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
      else process.stdout.write(`     kept ${folder}${s3 ? ` (its S3 objects go with the server)` : ''}\n`);
    }
  } finally {
    await s3?.stop();
    await kinesis?.stop();
  }
  process.stdout.write(
    `${options.seeds.length - failed}/${options.seeds.length} sequences clean in ${((Date.now() - started) / 1000).toFixed(0)} s; work folder ${workDir}\n`,
  );
  return failed;
}
