// Runs each sink factory's `initializeGlobal` once in the coordinator, so subtasks share its result instead of
// repeating the work (compiling Parquet's WebAssembly encoder costs each thread ~150 ms of CPU).

import type { SinkContext } from '../api/sink.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';

/** By sink uid: what the sink's factory prepared for every subtask (sinks without the hook are absent). */
export async function initializeSinksGlobally(plan: PhysicalPlan, context: Pick<SinkContext, 'outDir' | 'format'>): Promise<Record<string, unknown>> {
  const shared: Record<string, unknown> = {};
  await Promise.all(
    plan.graph.nodes.map(async (node) => {
      if (node.spec.kind !== 'sink' || !node.spec.factory.initializeGlobal) return;
      const value = await node.spec.factory.initializeGlobal(context);
      if (value !== undefined) shared[node.uid] = value;
    }),
  );
  return shared;
}
