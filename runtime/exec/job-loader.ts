// Loads a user's job file (.ts or .js, anywhere on disk): bundled once with esbuild so every thread imports
// the same module, with the engine's own modules resolved to this installation's compiled files.

import { build, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CoattailError, describeError } from '../errors.js';
import { isJobDefinition, type JobDefinition } from '../graph/job.js';

/** The package root: dist/runtime/exec/ -> three levels up. */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const distRoot = join(packageRoot, 'dist');
const ENGINE_FOLDERS = ['runtime', 'operators', 'connectors'];

/** Map `coattail` and source files of the engine to the compiled modules, kept external. */
const engineModules: Plugin = {
  name: 'coattail-engine',
  setup(builder) {
    builder.onResolve({ filter: /^coattail$/ }, () => ({ path: join(distRoot, 'runtime', 'index.js'), external: true }));
    builder.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      const inside = relative(packageRoot, target);
      const top = inside.split(sep)[0];
      if (inside.startsWith('..') || !top || !ENGINE_FOLDERS.includes(top)) return undefined;
      const compiled = join(distRoot, inside.replace(/\.ts$/, '.js'));
      return { path: compiled, external: true };
    });
  },
};

export async function bundleJob(jobFile: string): Promise<string> {
  const entry = resolve(jobFile);
  if (!existsSync(entry)) throw new CoattailError('FILE_NOT_FOUND', `job file not found: ${jobFile}`);
  const outDir = join(tmpdir(), 'coattail-jobs');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `${createHash('sha256').update(entry).digest('hex').slice(0, 16)}-${process.pid}.mjs`);
  try {
    await build({
      entryPoints: [entry],
      outfile: outFile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      plugins: [engineModules],
      // Bundled CommonJS dependencies still call require(); give them one.
      banner: { js: "import { createRequire as __coattailRequire } from 'node:module'; const require = __coattailRequire(import.meta.url);" },
    });
  } catch (error) {
    const first = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new CoattailError('JOB_COMPILE', `job file ${jobFile} does not compile: ${first?.text ?? describeError(error)}${where}`);
  }
  return pathToFileURL(outFile).href;
}

export async function importJob(jobUrl: string, jobFile = jobUrl): Promise<JobDefinition> {
  let module: { default?: unknown };
  try {
    module = (await import(jobUrl)) as { default?: unknown };
  } catch (error) {
    throw new CoattailError('JOB_COMPILE', `job file ${jobFile} failed to load: ${describeError(error)}`, { cause: error });
  }
  if (!isJobDefinition(module.default)) {
    throw new CoattailError('JOB_INVALID', `job file ${jobFile} must default-export defineJob(...)`);
  }
  return module.default;
}
