// Entry of a decode-pool thread (piscina): builds the job once, then decodes chunks on request.

import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { JobLaunch } from './messages.js';
import type { DecodeRequest } from './decode-result.js';
import { decodeForCoordinator, DecodeStage } from './decode-stage.js';
import { instantiatePlan } from './job-instance.js';

const launch = workerData as JobLaunch;
const stage: Promise<DecodeStage> = instantiatePlan(launch).then(({ plan }) =>
  DecodeStage.create(plan, launch.parallelism, launch.maxParallelism, launch.codec, launch.preAggregate !== false),
);

export default async function decodeChunk(request: DecodeRequest): Promise<unknown> {
  const { result, transfer } = decodeForCoordinator(await stage, request);
  // Hand the batches over without copying: piscina transfers what a Transferable lists.
  return move({ [transferableSymbol]: transfer, [valueSymbol]: result } as never);
}
