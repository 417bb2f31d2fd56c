// The jobs' prepare step: config/features.yaml is loaded and validated once, on the coordinator. The config
// module (and with it zod and yaml) is imported on demand, so the bundle evaluates it only there; worker
// threads get the validated features as plain data and load neither library.

import type { JobContext } from 'coattail';
import type { Features } from './config.js';

export async function prepareFeatures(context: JobContext): Promise<Features> {
  const { loadFeatures } = await import('./config.js');
  return loadFeatures(context.configPath);
}
