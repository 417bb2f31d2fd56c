// The kill -9 chaos campaign (docs/testing.md): bundles test/support/chaos-campaign.ts with esbuild and runs it.
// Needs `npm run build` first (the runs use dist/ through bin/coattail.js).
//   node scripts/chaos.mjs --seeds 1-20 [--shapes plain,duplicates,late,bursts,days,horizon,files] [--format jsonl|parquet]
//     [--storage local|s3] [--source tapes|generator|kinesis] [--events N]
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Three folders below the root, as test/e2e/support/cli.ts is: it finds the repository from its own location.
const bundled = join(root, 'dist', 'test', 'chaos', 'chaos-campaign.mjs');
await build({
  entryPoints: [join(root, 'test', 'support', 'chaos-campaign.ts')],
  outfile: bundled,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
const { runCampaign } = await import(pathToFileURL(bundled).href);
try {
  process.exitCode = (await runCampaign(process.argv.slice(2))) > 0 ? 1 : 0;
} catch (error) {
  process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
