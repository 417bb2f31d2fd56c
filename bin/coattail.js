#!/usr/bin/env node
// The coattail command; the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// The AWS SDK's notice about future Node versions is not something a user of this command can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// msgpackr's native string extractor loads a native addon in every thread (about 25 ms each, through
// detect-libc and child_process) and measured no faster on the engine's batches (docs/benchmarks.md).
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true';
// Each GC lets a heap grow to 1.5x what survived it, instead of V8's default of up to 4x: long runs then keep
// a flat RSS (the coordinator's dedupe ids turn over in old space) at no measured cost in time.
const { setFlagsFromString } = await import('node:v8');
setFlagsFromString('--heap-growing-percent=50');
if (process.argv[2] === 'run') {
  // Subtask threads boot while the rest of the CLI loads and the job is planned (runtime/exec/warm-threads.ts).
  const { prestartSubtaskThreads, parallelismHint } = await import('../dist/runtime/exec/warm-threads.js');
  prestartSubtaskThreads(parallelismHint(process.argv.slice(3)));
}
const { main } = await import('../dist/runtime/cli/main.js');

process.exitCode = await main(process.argv);
