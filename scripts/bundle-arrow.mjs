// Build step after tsc: dist/connectors/sinks/arrow-subset.js, which re-exports a few names of apache-arrow,
// becomes a single tree-shaken bundle of them (see connectors/sinks/arrow-subset.ts for why).
import { build } from 'esbuild';
import { renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const compiled = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'connectors', 'sinks', 'arrow-subset.js');
const bundled = `${compiled}.bundle.tmp`;
await build({
  entryPoints: [compiled],
  outfile: bundled,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
renameSync(bundled, compiled);
