// Bundles one of test/support's TypeScript modules with esbuild for the campaign scripts (chaos, quality fuzz) and
// imports it. The bundle lands three folders below the repository root (dist/test/<folder>/), as
// test/e2e/support/cli.ts is, so that code finding the repository from its own location still finds it, and
// `coattail` imports resolve to this package's dist/.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `test/support/<module>.ts` bundled into `dist/test/<folder>/<module>.mjs` (npm packages stay imports), imported. */
export async function importSupportModule(module, folder, plugins = []) {
  const bundled = join(root, 'dist', 'test', folder, `${module}.mjs`);
  await build({
    entryPoints: [join(root, 'test', 'support', `${module}.ts`)],
    outfile: bundled,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    plugins,
  });
  return import(pathToFileURL(bundled).href);
}
