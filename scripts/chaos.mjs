// The kill -9 chaos campaign (docs/testing.md): bundles test/support/chaos-campaign.ts with esbuild and runs it.
// Needs `npm run build` first (the runs use dist/ through bin/coattail.js).
//   node scripts/chaos.mjs --seeds 1-20 [--shapes plain,duplicates,late,bursts,days,horizon,files] [--format jsonl|parquet]
//     [--storage local|s3] [--source tapes|generator|kinesis] [--events N] [--job FILE --tables a,b]
import { importSupportModule } from './bundle-support.mjs';

const { runCampaign } = await importSupportModule('chaos-campaign', 'chaos');
try {
  process.exitCode = (await runCampaign(process.argv.slice(2))) > 0 ? 1 : 0;
} catch (error) {
  process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
