// Entry of a decode-pool thread (piscina): builds the job once, then decodes chunks on request.

import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { JobLaunch } from './messages.js';
import { DecodeStage, type DecodeRequest, type DecodeResult } from './decode-stage.js';
import { instantiatePlan } from './job-instance.js';

const launch = workerData as JobLaunch;
const stage: Promise<DecodeStage> = instantiatePlan(launch).then(({ plan }) =>
  DecodeStage.create(plan, launch.parallelism, launch.maxParallelism, launch.codec, launch.preAggregate !== false),
);

export default async function decodeChunk(request: DecodeRequest): Promise<unknown> {
  let result: DecodeResult = (await stage).decode(request);
  const transfer: ArrayBuffer[] = [];
  if (request.payload.kind === 'lines') {
    // Back to the coordinator, which may need the chunk decoded again (pre-aggregation) and then hands the
    // buffer back to the reader to fill again.
    result = { ...result, payload: request.payload };
    transfer.push(request.payload.bytes.buffer as ArrayBuffer);
  }
  for (const target of result.targets) {
    transfer.push(
      target.records.buffer as ArrayBuffer,
      target.exitMasks.buffer as ArrayBuffer,
      target.orderedIndex.buffer as ArrayBuffer,
      target.eventTimes.buffer as ArrayBuffer,
    );
  }
  if (result.dedupeTimes) transfer.push(result.dedupeTimes.buffer as ArrayBuffer);
  if (result.dedupeHashes) transfer.push(result.dedupeHashes.buffer as ArrayBuffer);
  if (result.eventTimes) transfer.push(result.eventTimes.buffer as ArrayBuffer);
  // Hand the batches over without copying: piscina transfers what a Transferable lists.
  return move({ [transferableSymbol]: transfer, [valueSymbol]: result } as never);
}
