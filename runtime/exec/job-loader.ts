// Loads a user's job file (.ts or .js, anywhere on disk): bundled with esbuild so every thread imports the
// same module, with the engine's own modules resolved to this installation's compiled files.

import type { Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CoattailError, describeError } from '../errors.js';
import { isJobDefinition, type JobDefinition } from '../graph/job.js';
import { BundleCache } from './bundle-cache.js';

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

/** Bundles live in the system temp folder, reused across runs while their inputs are unchanged. */
const cache = new BundleCache(join(tmpdir(), 'coattail-jobs'));

export async function bundleJob(jobFile: string): Promise<string> {
  const entry = resolve(jobFile);
  if (!existsSync(entry)) throw new CoattailError('FILE_NOT_FOUND', `job file not found: ${jobFile}`);
  // The same job file in another installation of coattail bundles differently (engine paths).
  const key = createHash('sha256').update(`${packageRoot}\0${entry}`).digest('hex').slice(0, 16);
  const cached = cache.lookup(key);
  if (cached) return pathToFileURL(join(cached, 'job.mjs')).href;
  const outDir = cache.newFolder(key);
  // Imported here, not at the top: worker threads import this module for importJob and never bundle.
  const { build } = await import('esbuild');
  let inputs: string[];
  try {
    const result = await build({
      entryPoints: { job: entry },
      outdir: outDir,
      outExtension: { '.js': '.mjs' },
      // Code split: what a job imports with import() (its prepare step's config libraries) becomes a chunk
      // of its own, which worker threads never load, parse or compile.
      splitting: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Maps in files of their own (`node --enable-source-maps` still finds them): inline, they made the config
      // chunk 3.5 MB instead of 1 MB, read and decoded on the main thread before every run.
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      plugins: [engineModules],
      // A job outside this repository may use the packages coattail itself depends on (zod, yaml, ...)
      // without installing them next to it; its own node_modules, if any, are searched first.
      nodePaths: [join(packageRoot, 'node_modules')],
      // Bundled CommonJS dependencies still call require(); give them one.
      banner: { js: "import { createRequire as __coattailRequire } from 'node:module'; const require = __coattailRequire(import.meta.url);" },
    });
    inputs = Object.keys(result.metafile.inputs).map((input) => resolve(input));
  } catch (error) {
    rmSync(outDir, { recursive: true, force: true });
    const first = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors?.[0];
    // esbuild names files relative to the working directory; an absolute path reads better from anywhere.
    const where = first?.location ? ` (${resolve(first.location.file)}:${first.location.line})` : '';
    throw new CoattailError('JOB_COMPILE', `job file ${jobFile} does not compile: ${first?.text ?? describeError(error)}${where}`, { cause: error });
  }
  cache.remember(key, outDir, inputs.filter((input) => existsSync(input)));
  return pathToFileURL(join(outDir, 'job.mjs')).href;
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
