// The quality fuzz campaign (docs/testing.md): the engine's quality decision against the spec oracle on seeded,
// mutated trade lines. Needs `npm run build` first: the engine modules are the built ones in dist/.
//   node scripts/fuzz-quality.mjs --seeds 1-200 --lines 100000 [--max 20]
// Prints each mismatch (minimized where the line mismatches on its own) and exits 1 if there is any.
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { importSupportModule, root } from './bundle-support.mjs';

const ENGINE_FOLDERS = ['runtime', 'jobs', 'connectors', 'operators'];

/**
 * Engine sources imported by the fuzzer become imports of their dist/ builds, so that the bundle holds no copy of
 * the engine: the decode stage and the field reader must share one `currentLine` (dist's, which `coattail` names).
 */
const engineFromDist = {
  name: 'engine-from-dist',
  setup(builder) {
    // Left to Node, which resolves the package's own name to dist/runtime/index.js.
    builder.onResolve({ filter: /^coattail$/ }, () => ({ path: 'coattail', external: true }));
    builder.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      const inRepo = relative(root, target);
      if (!ENGINE_FOLDERS.includes(inRepo.split(/[\\/]/)[0])) return undefined;
      const built = join(root, 'dist', inRepo);
      if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build first`);
      return { path: built, external: true };
    });
  },
};

function parseArgs(argv) {
  const options = { seeds: [1, 20], lines: 100_000, max: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--seeds') {
      const match = /^(\d+)(?:-(\d+))?$/.exec(value);
      if (!match) throw new Error(`--seeds takes N or N-M, not ${value}`);
      options.seeds = [Number(match[1]), Number(match[2] ?? match[1])];
    } else if (flag === '--lines' || flag === '--max') {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1) throw new Error(`${flag} takes a positive whole number, not ${value}`);
      options[flag.slice(2)] = count;
    } else {
      throw new Error(`unknown option ${flag} (use --seeds N-M, --lines N, --max N)`);
    }
  }
  return options;
}

async function loadFuzzer() {
  if (!existsSync(join(root, 'dist', 'runtime', 'index.js'))) throw new Error('dist/ is missing: run npm run build first');
  return importSupportModule('quality-fuzz', 'fuzz', [engineFromDist]);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const fuzzer = await loadFuzzer();
  const started = Date.now();
  const totals = { lines: 0, records: 0, readInPlace: 0, passed: 0, malformed: 0, incomplete: 0, invalid: 0, mismatches: 0 };
  const shown = new Set();
  for (let seed = options.seeds[0]; seed <= options.seeds[1]; seed++) {
    const report = fuzzer.runFuzzSeed(seed, options.lines, options.max);
    totals.lines += options.lines;
    totals.records += report.records;
    totals.readInPlace += report.readInPlace;
    for (const status of ['passed', 'malformed', 'incomplete', 'invalid']) totals[status] += report.statuses[status];
    totals.mismatches += report.mismatches.length;
    for (const mismatch of report.mismatches) printMismatch(fuzzer, mismatch, shown, options.max);
    process.stderr.write(`seed ${seed}: ${report.records} records, ${report.readInPlace} read in place, ${report.mismatches.length} mismatches\n`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`quality fuzz: seeds ${options.seeds.join('-')}, ${JSON.stringify(totals)} in ${seconds} s\n`);
  return totals.mismatches > 0 ? 1 : 0;
}

/** Prints a mismatch once per minimized form (one bug tends to show on many lines). */
function printMismatch(fuzzer, mismatch, shown, max) {
  const alone = fuzzer.lineDifferences(mismatch.bytes).length > 0;
  const minimal = alone ? fuzzer.shrinkLine(mismatch.bytes) : undefined;
  const key = minimal ? minimal.toString('hex') : mismatch.bytes.toString('hex');
  if (shown.has(key) || shown.size >= max) return;
  shown.add(key);
  let text = fuzzer.describeMismatch(mismatch);
  if (minimal) text += `\n  minimized: ${JSON.stringify(minimal.toString('utf8'))}\n    ${fuzzer.lineDifferences(minimal).join('\n    ')}`;
  else text += '\n  (agrees when fed alone: depends on the lines before it in the seed)';
  process.stdout.write(`${text}\n\n`);
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`fuzz-quality: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
