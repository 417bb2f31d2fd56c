// Where a process's CPU went by V8 execution tier, from a Linux `perf` recording of it: optimized (TurboFan)
// JavaScript, baseline (Sparkplug) and interpreted code, TurboFan compiling, parsing and bytecode generation, GC,
// and the rest (Node and V8 internals without JavaScript on the stack, the kernel). CPU profiles from
// `--cpu-prof` cannot show this split: they see one thread at a time and no compiler threads.
//
//   perf record -F 999 -g -o perf.data node --perf-basic-prof bin/coattail.js run ...
//   node dist/bench/perf-tiers.js perf.data

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Tier = 'turbofan compiling' | 'gc' | 'parsing and bytecode' | 'optimized JS' | 'baseline JS' | 'interpreted JS' | 'other';

/**
 * The tier of one sample from its stack (symbols, innermost first). Compiler and GC frames decide first: they
 * run under JavaScript frames when they happen on the main thread. `--perf-basic-prof` names JIT code
 * `JS:*` (optimized), `JS:^` (baseline) and `JS:~` (interpreted).
 */
export function tierOf(stack: readonly string[]): Tier {
  const has = (pattern: RegExp) => stack.some((frame) => pattern.test(frame));
  if (has(/OptimizingCompileDispatcher|PipelineCompilationJob|compiler::Pipeline/)) return 'turbofan compiling';
  if (has(/Scavenge|MarkCompact|ConcurrentMarking|Heap::Collect|Sweeper|Evacuat|MinorMC|IncrementalMarking|Heap::PerformGarbage/)) return 'gc';
  if (has(/Parser::|Scanner::|Compiler::Compile|BytecodeGenerator|interpreter::|GetSharedFunctionInfo|LazyCompile/)) return 'parsing and bytecode';
  if (has(/JS:\*/)) return 'optimized JS';
  if (has(/JS:\^|Baseline/)) return 'baseline JS';
  if (has(/JS:~|InterpreterEntryTrampoline/)) return 'interpreted JS';
  return 'other';
}

/** Counts samples per tier from `perf script -F tid,ip,sym` output: a header line, stack lines, a blank line. */
export async function countTiers(lines: AsyncIterable<string>): Promise<Map<Tier, number>> {
  const counts = new Map<Tier, number>();
  let stack: string[] | undefined;
  const finish = () => {
    if (stack) counts.set(tierOf(stack), (counts.get(tierOf(stack)) ?? 0) + 1);
    stack = undefined;
  };
  for await (const line of lines) {
    if (line.trim() === '') finish();
    else if (/^\S/.test(line)) {
      finish();
      stack = [];
    } else stack?.push(line.trim().replace(/^[0-9a-f]+\s+/, ''));
  }
  finish();
  return counts;
}

async function main(dataFile: string): Promise<void> {
  const perf = spawn('perf', ['script', '-i', dataFile, '-F', 'tid,ip,sym'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((done, fail) => {
    perf.on('error', fail);
    perf.on('close', done);
  });
  const counts = await countTiers(createInterface({ input: perf.stdout, crlfDelay: Infinity }));
  const code = await exited;
  if (code !== 0) throw new Error(`perf script exited with ${code}: is ${dataFile} a perf recording?`);
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0) throw new Error(`${dataFile} holds no samples`);
  process.stdout.write(`| tier | samples | share |\n|---|---:|---:|\n`);
  for (const [tier, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`| ${tier} | ${n} | ${((100 * n) / total).toFixed(1)} % |\n`);
  }
  process.stdout.write(`| all | ${total} | |\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dataFile = process.argv[2];
  if (!dataFile) {
    process.stderr.write('usage: node dist/bench/perf-tiers.js <perf.data> (recorded with perf record -g ... node --perf-basic-prof ...)\n');
    process.exitCode = 1;
  } else {
    main(dataFile).catch((error: unknown) => {
      process.stderr.write(`perf-tiers: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
  }
}
