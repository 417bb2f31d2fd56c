// Creates the physical operator for a logical step; shared by decode threads and subtasks.

import type { LogicalNode } from '../graph/logical-graph.js';
import type { SinkContext } from '../api/sink.js';
import { parseDuration } from '../time/duration.js';
import type { OperatorEnvironment, StreamOperator } from './stream-operator.js';
import { FilterOperator, FlatMapOperator, MapOperator, PassThroughOperator, ProcessOperator } from '../../operators/basic.js';
import { KeyedProcessOperator } from '../../operators/keyed-process.js';
import { WindowOperator } from '../../operators/window.js';
import { SinkOperator } from '../../operators/sink-operator.js';

export async function createOperator(
  node: LogicalNode,
  env: OperatorEnvironment,
  /** The context a sink step's writer is created with (by the step's uid). */
  sinkContext: (uid: string) => SinkContext,
): Promise<StreamOperator> {
  const spec = node.spec;
  switch (spec.kind) {
    case 'map':
      return new MapOperator(env, spec.fn);
    case 'filter':
      return new FilterOperator(env, spec.fn);
    case 'flatMap':
      return new FlatMapOperator(env, spec.fn);
    case 'process':
      return new ProcessOperator(env, spec.fn);
    case 'union':
      return new PassThroughOperator(env);
    case 'keyedProcess':
    case 'coProcess':
      return new KeyedProcessOperator(env, spec.fn);
    case 'window':
      return new WindowOperator(env, {
        assigner: spec.assigner,
        delayMs: parseDuration(spec.options.delay ?? 0, `${node.uid}: delay`),
        aggregate: spec.aggregate,
        ...(spec.windowFunction ? { windowFunction: spec.windowFunction } : {}),
        ...(spec.lateTag ? { lateTag: spec.lateTag } : {}),
        ...(spec.options.lateCounter ? { lateCounter: spec.options.lateCounter } : {}),
        ...(spec.options.globalStateTtl !== undefined
          ? { globalStateTtlMs: parseDuration(spec.options.globalStateTtl, `${node.uid}: globalStateTtl`) }
          : {}),
      });
    case 'sink': {
      const writer = await spec.factory.create(sinkContext(node.uid));
      return new SinkOperator(spec.factory.name, writer, env.metrics.counter(`rows.${spec.factory.name}`));
    }
    case 'source':
    case 'dedupe':
    case 'watermarks':
      throw new Error(`"${node.uid}" (${spec.kind}) does not run as an operator`);
  }
}
