// Diagnostic: the CPU cost per record of each engine stage, run one after another on one thread (no worker
// threads, so no contention and no waiting): file reading, the decode stage and its parts, the hop of a
// decode result between threads, the ordered stage, and a subtask's batch decoding and operators.

import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileSource } from '../connectors/sources/file-source.js';
import { DecodeStage } from '../runtime/exec/decode-stage.js';
import { transferablesOf, type DecodeResult } from '../runtime/exec/decode-result.js';
import { forEachRawRecord } from '../runtime/formats/chunk-records.js';
import { bundleJob } from '../runtime/exec/job-loader.js';
import { instantiatePlan, prepareLaunch } from '../runtime/exec/job-instance.js';
import { CounterRegistry } from '../runtime/exec/metrics.js';
import { OrderedStage } from '../runtime/exec/ordered-stage.js';
import { SubtaskGraph } from '../runtime/exec/subtask-graph.js';
import { createCodec, type CodecName } from '../runtime/transport/record-codec.js';
import { ensureTrades } from './generate-trades.js';
import { REPO_ROOT } from './run-process.js';

export interface StageCostOptions {
  readonly job: string;
  readonly events: number;
  readonly parallelism: number;
  readonly codec: CodecName;
  /** The file source's chunk size (the engine reads 1024 KiB chunks). */
  readonly chunkKib?: number;
}

/** CPU nanoseconds of every thread of this process but the calling one: V8's GC and compiler helpers, libuv. */
function helperThreadsCpuNanos(): number {
  const self = readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0];
  let total = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    if (tid === self) continue;
    try {
      total += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return total;
}

/** CPU nanoseconds spent per stage, summed over the run. */
type Costs = Map<string, number>;

/**
 * Elapsed time of one piece of work on this thread. Not the thread's CPU time: /proc/thread-self/schedstat only
 * advances at scheduler ticks and switches, so sub-millisecond pieces read as nothing and the next await
 * collects what they used. With every stage on one thread and nothing else to run, elapsed time is CPU time.
 */
function elapsedNanos(): number {
  return Number(process.hrtime.bigint());
}

function timed<T>(costs: Costs, stage: string, work: () => T): T {
  const before = elapsedNanos();
  const value = work();
  costs.set(stage, (costs.get(stage) ?? 0) + elapsedNanos() - before);
  return value;
}

async function timedAsync<T>(costs: Costs, stage: string, work: () => Promise<T>): Promise<T> {
  const before = elapsedNanos();
  const value = await work();
  costs.set(stage, (costs.get(stage) ?? 0) + elapsedNanos() - before);
  return value;
}

export async function measureStageCosts(options: StageCostOptions): Promise<{ records: number; costs: Costs }> {
  const file = ensureTrades(join(REPO_ROOT, 'bench', 'data'), options.events);
  const jobUrl = await bundleJob(resolve(REPO_ROOT, options.job));
  // prepare() runs once, as on the coordinator: jobs such as jobs/all.ts load their configuration there.
  const launch = await prepareLaunch({ jobUrl, sourceUri: `file:${file.path}`, live: false, outputs: {}, parallelism: options.parallelism, maxParallelism: 128, codec: options.codec });
  const { plan } = await instantiatePlan(launch);
  const decodeStage = await DecodeStage.create(plan, options.parallelism, 128, options.codec);
  const ordered = new OrderedStage(plan.dedupe, new CounterRegistry());
  const codec = createCodec(options.codec);
  const subtasks = await Promise.all(
    Array.from({ length: options.parallelism }, (_, subtaskIndex) =>
      SubtaskGraph.create(plan, {
        subtaskIndex,
        parallelism: options.parallelism,
        maxParallelism: 128,
        sinkContext: { subtaskIndex, parallelism: options.parallelism, attemptId: 'bench', outDir: '/nonexistent', format: 'jsonl' },
      }),
    ),
  );
  for (const subtask of subtasks) subtask.gate.addSplit(0);
  const source = fileSource(file.path, options.chunkKib ? { chunkBytes: options.chunkKib * 1024 } : {});
  const [split] = await source.discoverSplits();
  const costs: Costs = new Map();
  // Pass 1: the pipeline alone, so the helper threads' CPU (GC, JIT) belongs to it.
  const helpersBefore = helperThreadsCpuNanos();
  let records = 0;
  let chunkSeq = 0;
  const reader = await source.openSplit(split!, undefined);
  for (;;) {
    const chunk = await timedAsync(costs, 'coordinator: read file, cut chunks', () => reader.next());
    if (!chunk) break;
    const result = timed(costs, 'decode: whole stage (parse, job steps, route, encode)', () =>
      decodeStage.decode({ chunkSeq: chunkSeq++, origin: split!.origin, payload: chunk.payload }),
    );
    records += result.recordsIn;
    // What piscina does to hand the result to the main thread: a structured clone with the buffers transferred.
    const arrived = timed(costs, 'hop: decode result to coordinator (structured clone)', () => hop(result));
    const stamps = timed(costs, 'coordinator: ordered stage (watermarks, stamps)', () => ordered.apply(0, arrived));
    // As the coordinator: the decoded chunk's buffer goes back to the reader to read into again.
    if (chunk.payload.kind === 'lines') reader.recycle?.(chunk.payload.bytes);
    for (let t = 0; t < arrived.targets.length; t++) {
      const target = arrived.targets[t]!;
      const graph = subtasks[target.subtask]!;
      const message = timed(costs, 'hop: batch to subtask (structured clone)', () =>
        structuredClone(
          { records: target.records, exitMasks: target.exitMasks, stamps: stamps[t]!, eventTimes: target.eventTimes },
          { transfer: [target.records.buffer, target.exitMasks.buffer, stamps[t]!.buffer, target.eventTimes.buffer] as ArrayBuffer[] },
        ),
      );
      const values = timed(costs, 'subtask: codec.decode', () => codec.decode(message.records));
      await timedAsync(costs, 'subtask: deliver to operators + flush', async () => {
        // As subtask-host.ts handles a batch.
        for (let i = 0; i < values.length; i++) {
          const stamp = message.stamps[i]!;
          if (stamp !== stamp) continue;
          const eventTime = message.eventTimes[i]!;
          graph.deliver(0, stamp, values[i], message.exitMasks[i]!, eventTime === eventTime ? eventTime : null);
        }
        await graph.flush();
      });
    }
  }
  await reader.close();
  for (const graph of subtasks) {
    await timedAsync(costs, 'subtask: deliver to operators + flush', async () => {
      graph.gate.endSplit(0);
      await graph.finish();
    });
  }
  costs.set('helper threads: V8 GC and compiler, libuv (file reads)', helperThreadsCpuNanos() - helpersBefore);
  // Pass 2: pieces of the decode stage on the same chunks, to see what its whole is made of.
  const partsStage = await DecodeStage.create(plan, options.parallelism, 128, options.codec);
  const partsReader = await source.openSplit(split!, undefined);
  for (let chunk = await partsReader.next(); chunk; chunk = await partsReader.next()) {
    const { payload } = chunk;
    timed(costs, '(part) split lines', () => forEachRawRecord(payload, split!.origin, () => undefined));
    timed(costs, '(part) split lines + JSON.parse', () => forEachRawRecord(payload, split!.origin, (raw) => JSON.parse(raw.text)));
    const result = partsStage.decode({ chunkSeq: chunkSeq++, origin: split!.origin, payload });
    for (const target of result.targets) {
      const values = codec.decode(target.records);
      timed(costs, '(part) codec.encode of the routed batches', () => codec.encode(values));
    }
  }
  await partsReader.close();
  return { records, costs };
}
function hop(result: DecodeResult): DecodeResult {
  return structuredClone(result, { transfer: transferablesOf(result) });
}

export function renderStageCosts(options: StageCostOptions, records: number, costs: Costs): string {
  const ns = (stage: string) => (costs.get(stage) ?? 0) / records;
  const pipeline = [...costs.keys()].filter((stage) => !stage.startsWith('(part)'));
  const total = pipeline.reduce((sum, stage) => sum + ns(stage), 0);
  const baseline = ns('(part) split lines + JSON.parse');
  const decodeRest = ns('decode: whole stage (parse, job steps, route, encode)') - baseline - ns('(part) codec.encode of the routed batches');
  const rows = [...costs.keys()].map((stage) => {
    const part = stage.startsWith('(part)');
    return `| ${stage} | ${ns(stage).toFixed(0)} | ${part ? '' : `${((100 * ns(stage)) / total).toFixed(0)} %`} |`;
  });
  rows.push(`| (part) the rest of the decode stage: job steps after JSON.parse, routing, batch building | ${decodeRest.toFixed(0)} | |`);
  return [
    `# Stage costs: ${options.job}, -p ${options.parallelism}, ${options.codec}, ${options.chunkKib ?? 1024} KiB chunks`,
    '',
    `${new Date().toISOString().slice(0, 10)} · Node ${process.version} · load average ${loadavg()[0]!.toFixed(1)} · ` +
      `${records.toLocaleString('en-US')} records, every stage on one thread, elapsed time per stage (nothing else runs on the thread, so it is its CPU time; reading includes waiting for the file), helper threads' CPU from /proc/self/task/*/schedstat. ` +
      '(part) rows, measured in a second pass over the same chunks, are pieces of the decode stage and are not added to the total.',
    '',
    '| stage | ns/record | share |',
    '|---|---:|---:|',
    ...rows,
    `| **all stages** | **${total.toFixed(0)}** | |`,
    '',
    `All stages together cost ${(total / baseline).toFixed(2)}x the CPU of splitting and JSON.parsing the same lines here. ` +
      `Even with both cores busy all the time, that allows at most ${(2 / (total / baseline)).toFixed(2)}x the rate of one thread ` +
      'that only parses (the end-to-end baseline also pays for reading the file and for Node start-up, so compare ratios there too).',
    '',
  ].join('\n');
}

function parseArgs(argv: string[]): StageCostOptions {
  const options: { job: string; events: number; parallelism: number; codec: CodecName; chunkKib?: number } = {
    job: 'bench/jobs/window-count.ts',
    events: 1_000_000,
    parallelism: 2,
    codec: 'columnar',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--job') options.job = value;
    else if (flag === '--events') options.events = Number(value);
    else if (flag === '-p' || flag === '--parallelism') options.parallelism = Number(value);
    else if (flag === '--codec') options.codec = value as CodecName;
    else if (flag === '--chunk-kib') options.chunkKib = Number(value);
    else throw new Error(`unknown option ${flag}: use --job FILE --events N -p N --codec columnar|msgpack|structured-clone --chunk-kib N`);
  }
  return options;
}

export async function runStageCosts(options: StageCostOptions, markdownPath = join(REPO_ROOT, 'bench', 'results', 'stage-costs.md')): Promise<string> {
  const { records, costs } = await measureStageCosts(options);
  const markdown = renderStageCosts(options, records, costs);
  mkdirSync(resolve(markdownPath, '..'), { recursive: true });
  writeFileSync(markdownPath, markdown);
  return markdown;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runStageCosts(parseArgs(process.argv.slice(2)))
    .then((markdown) => process.stdout.write(markdown))
    .catch((error: unknown) => {
      process.stderr.write(`stage-costs: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
