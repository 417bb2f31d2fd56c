// One parallel subtask: the steps after the decode stage, fed by the coordinator's routed batches, with an
// input gate over source splits and watermark propagation through the steps in topological order.

import type { SinkContext } from '../api/sink.js';
import type { KeySpec } from '../graph/logical-graph.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import { CounterRegistry } from './metrics.js';
import { createOperator } from './operator-factory.js';
import type { Emitter, KeyScope, OperatorSnapshot, StreamOperator } from './stream-operator.js';
import { annotateStepError } from './step-error.js';
import { isCoattailError } from '../errors.js';
import { WatermarkGate } from '../time/watermark-gate.js';

type Push = (value: unknown, timestamp: number | null) => void;

interface SubtaskNode {
  readonly id: number;
  readonly uid: string;
  readonly operator: StreamOperator;
  /** Upstream worker nodes (by index into `nodes`); exits contribute the gate's watermark. */
  readonly upstream: number[];
  readonly fedByExit: boolean;
  inputWatermark: number;
  outputWatermark: number;
}

export interface SubtaskOptions {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly sinkContext: SinkContext;
  /** By sink uid: what the sink factory's `initializeGlobal` returned in the coordinator. */
  readonly sinkShared?: Readonly<Record<string, unknown>>;
}

export class SubtaskGraph {
  readonly metrics = new CounterRegistry();
  readonly gate = new WatermarkGate();
  private readonly nodes: SubtaskNode[] = [];
  private readonly keyScope: KeyScope = { current: undefined };
  /** For each exit: deliver a record into the step it feeds. */
  private exitPushes: Push[] = [];

  private constructor(private readonly plan: PhysicalPlan, private readonly options: SubtaskOptions) {}

  static async create(plan: PhysicalPlan, options: SubtaskOptions): Promise<SubtaskGraph> {
    const graph = new SubtaskGraph(plan, options);
    await graph.wire();
    return graph;
  }

  private async wire(): Promise<void> {
    const { plan, options } = this;
    const indexOf = new Map<number, number>();
    plan.workerNodes.forEach((id, index) => indexOf.set(id, index));
    // Consumers per (node, tag), filled as operators are created in reverse order.
    const pushes = new Map<string, Push[]>();
    const list = (node: number, tag?: string) => {
      const key = `${node}:${tag ?? ''}`;
      let found = pushes.get(key);
      if (!found) pushes.set(key, (found = []));
      return found;
    };
    const exitPushes: Push[] = new Array(plan.exits.length + plan.preAggregated.length);
    const created: SubtaskNode[] = new Array(plan.workerNodes.length);
    for (let index = plan.workerNodes.length - 1; index >= 0; index--) {
      const id = plan.workerNodes[index]!;
      const node = plan.graph.node(id);
      const mainConsumers = list(id);
      const output: Emitter = {
        emit: (value, timestamp) => {
          for (let i = 0; i < mainConsumers.length; i++) mainConsumers[i]!(value, timestamp);
        },
        emitSide: (tagId, value, timestamp) => {
          const consumers = pushes.get(`${id}:${tagId}`);
          if (consumers) for (const push of consumers) push(value, timestamp);
        },
      };
      const inputs = plan.workerInputs.get(id) ?? [];
      const keySelectors: Array<((value: unknown) => string) | undefined> = [undefined, undefined];
      for (const input of inputs) if (input.edge.key) keySelectors[(input.edge.port ?? 1) - 1] = input.edge.key.selector;
      const operator = await this.inStep(node.uid, () => createOperator(
        node,
        {
          uid: node.uid,
          subtaskIndex: options.subtaskIndex,
          parallelism: options.parallelism,
          maxParallelism: options.maxParallelism,
          metrics: this.metrics,
          output,
          keySelectors,
          keyScope: this.keyScope,
        },
        (uid) => (options.sinkShared?.[uid] === undefined ? options.sinkContext : { ...options.sinkContext, shared: options.sinkShared[uid] }),
      ));
      created[index] = {
        id,
        uid: node.uid,
        operator,
        upstream: inputs.filter((i) => i.node !== undefined).map((i) => indexOf.get(i.node!)!),
        fedByExit: inputs.some((i) => i.exit !== undefined),
        inputWatermark: Number.NEGATIVE_INFINITY,
        outputWatermark: Number.NEGATIVE_INFINITY,
      };
      for (const input of inputs) {
        const port = input.edge.port ?? 1;
        const push: Push = (value, timestamp) => {
          try {
            operator.processElement(value, timestamp, port);
          } catch (error) {
            throw annotateStepError(error, node.uid);
          }
        };
        if (input.exit !== undefined) exitPushes[input.exit] = push;
        else list(input.node!, input.edge.tag).push(input.edge.key ? this.keyKeptBy(input.edge.key, push) : push);
        const preAggregated = plan.preAggregated.find((p) => p.exit === input.exit);
        if (preAggregated && input.exit !== undefined) {
          exitPushes[preAggregated.partialExit] = (partial) => {
            try {
              operator.processPartial!(partial);
            } catch (error) {
              throw annotateStepError(error, node.uid);
            }
          };
        }
      }
    }
    this.nodes.push(...created);
    this.exitPushes = exitPushes;
    for (const node of this.nodes) await this.inStep(node.uid, async () => node.operator.open?.());
  }

  /**
   * A keyBy after a keyed step of this subtask: records stay in the subtask, which is a shuffle only if each keeps
   * the key it was emitted under (Flink's reinterpretAsKeyedStream); a record that does not fails the step.
   */
  private keyKeptBy(key: KeySpec, push: Push): Push {
    return (value, timestamp) => {
      let selected: unknown;
      try {
        selected = key.selector(value);
      } catch (error) {
        throw annotateStepError(error, key.name);
      }
      if (selected !== this.keyScope.current) {
        const held = this.keyScope.current === undefined ? 'a record of no key' : `a record of key ${JSON.stringify(this.keyScope.current)}`;
        throw annotateStepError(
          new Error(
            `its key selector returned ${typeof selected === 'string' ? JSON.stringify(selected) : String(selected)} for ${held}: ` +
              'a keyBy after a keyed step must keep each record\'s key (the engine shuffles once, docs/decisions.md §5)',
          ),
          key.name,
        );
      }
      push(value, timestamp);
    };
  }

  /**
   * Runs an operator's lifecycle call (create, open, timers, sink writes and commits) so that an exception from
   * user code names the step. The engine's own errors (CoattailError) already say what failed and pass unchanged.
   */
  private async inStep<T>(uid: string, work: () => T | Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw isCoattailError(error) ? error : annotateStepError(error, uid);
    }
  }

  /** Deliver one routed record: advance the split's watermark to its stamp first, then push it down its exits. */
  deliver(split: number, stamp: number, value: unknown, exitMask: number, eventTime: number | null): void {
    if (stamp > this.gate.splitWatermark(split) && this.gate.advance(split, stamp)) this.propagateWatermark();
    for (let exit = 0; exitMask !== 0; exit++, exitMask >>>= 1) {
      if ((exitMask & 1) === 0) continue;
      // A record from the decode stage: no keyed step of this subtask runs for it yet.
      this.keyScope.current = undefined;
      this.exitPushes[exit]!(value, eventTime);
    }
  }

  /** The gate's watermark changed: let every step fire what is due, upstream first. */
  propagateWatermark(): void {
    const gateWatermark = this.gate.current;
    for (const node of this.nodes) {
      let input = node.fedByExit ? gateWatermark : Number.POSITIVE_INFINITY;
      for (const upstream of node.upstream) input = Math.min(input, this.nodes[upstream]!.outputWatermark);
      if (input <= node.inputWatermark) continue;
      node.inputWatermark = input;
      try {
        node.outputWatermark = node.operator.onWatermark(input);
      } catch (error) {
        throw annotateStepError(error, node.uid);
      }
    }
  }

  onProcessingTime(now: number): void {
    for (const node of this.nodes) {
      try {
        node.operator.onProcessingTime?.(now);
      } catch (error) {
        throw annotateStepError(error, node.uid);
      }
    }
  }

  /** End of an input batch: sinks write what they buffered (awaiting a slow sink holds back credit). */
  async flush(): Promise<void> {
    for (const node of this.nodes) if (node.operator.flush) await this.inStep(node.uid, () => node.operator.flush!());
  }

  async finish(): Promise<void> {
    this.propagateWatermark();
    for (const node of this.nodes) await this.inStep(node.uid, () => node.operator.finish?.());
  }

  async abort(): Promise<void> {
    for (const node of this.nodes) await node.operator.abort?.().catch(() => undefined);
  }

  snapshotOperators(): Record<string, OperatorSnapshot> {
    const result: Record<string, OperatorSnapshot> = {};
    for (const node of this.nodes) {
      const snapshot = node.operator.snapshotState?.();
      if (snapshot) result[node.uid] = snapshot;
    }
    return result;
  }

  restoreOperators(byUid: Record<string, OperatorSnapshot[]>): void {
    for (const node of this.nodes) {
      const snapshots = byUid[node.uid];
      if (snapshots && node.operator.restoreState) node.operator.restoreState(snapshots);
    }
  }

  async prepareCommit(checkpointId: number): Promise<Record<string, unknown>> {
    const pending: Record<string, unknown> = {};
    for (const node of this.nodes) {
      if (node.operator.prepareCommit) pending[node.uid] = await this.inStep(node.uid, () => node.operator.prepareCommit!(checkpointId));
    }
    return pending;
  }

  async commit(pendingByUid: Record<string, unknown>): Promise<void> {
    for (const node of this.nodes) {
      if (node.operator.commit && pendingByUid[node.uid] !== undefined) await this.inStep(node.uid, () => node.operator.commit!(pendingByUid[node.uid]));
    }
  }
}
