// One parallel subtask: the steps after the decode stage, fed by the coordinator's routed batches, with an
// input gate over source splits and watermark propagation through the steps in topological order. With a second
// keyBy the steps form stages (§35): what crosses into the next stage is collected per target subtask and handed
// to the host, and what the other subtasks send into this one's later stages arrives through `deliverShuffled`.

import type { SinkContext } from '../api/sink.js';
import type { KeySpec } from '../graph/logical-graph.js';
import type { PhysicalPlan, Shuffle } from '../plan/physical-plan.js';
import { subtaskForKey } from '../plan/key-groups.js';
import { CounterRegistry } from './metrics.js';
import { createOperator } from './operator-factory.js';
import type { Emitter, KeyScope, OperatorSnapshot, StreamOperator } from './stream-operator.js';
import { annotateStepError, checkedKeySelector } from './step-error.js';
import { isCoattailError } from '../errors.js';
import { WatermarkGate } from '../time/watermark-gate.js';

type Push = (value: unknown, timestamp: number | null) => void;

interface SubtaskNode {
  readonly id: number;
  readonly uid: string;
  readonly stage: number;
  readonly operator: StreamOperator;
  /** Upstream worker nodes (by index into `nodes`); exits contribute the gate's watermark. */
  readonly upstream: number[];
  readonly fedByExit: boolean;
  /** Shuffles from the stage before whose watermark this node's input watermark includes. */
  readonly fedByShuffles: number[];
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

/** What the steps of one stage sent into the next since the last `takeOutput`, per target subtask. */
export interface StageOutput {
  /** The sending stage. */
  readonly stage: number;
  readonly targets: ReadonlyArray<{ readonly subtask: number; readonly records: unknown[]; readonly shuffles: number[]; readonly timestamps: number[] }>;
  /** Shuffles whose sender's output watermark rose, after the records above. */
  readonly watermarks: ReadonlyArray<{ readonly shuffle: number; readonly watermark: number }>;
}

interface Outbox {
  records: unknown[];
  shuffles: number[];
  timestamps: number[];
}

export class SubtaskGraph {
  /** Counters per stage: each stage snapshots its own at its barrier. */
  private readonly stageMetrics: CounterRegistry[];
  readonly gate = new WatermarkGate();
  private readonly nodes: SubtaskNode[] = [];
  private readonly keyScope: KeyScope = { current: undefined };
  /** For each exit: deliver a record into the step it feeds. */
  private exitPushes: Push[] = [];
  /** For each shuffle: deliver a record another subtask's stage sent into the step it feeds. */
  private shufflePushes: Push[] = [];
  /** For each shuffle: the watermark of what crosses it, the minimum over the sending subtasks (set by the host). */
  private readonly shuffleWatermarks: number[];
  /** For each shuffle: the sender's output watermark last handed out by `takeOutput`. */
  private readonly reportedWatermarks: number[];
  /** Per sending stage, per target subtask: records collected for the next stage. */
  private readonly outboxes: Array<Map<number, Outbox>>;
  /** Per stage: whether its steps have finished (their processing-time timers are dropped from then on). */
  private readonly finishedStages: boolean[];

  private constructor(private readonly plan: PhysicalPlan, private readonly options: SubtaskOptions) {
    this.stageMetrics = Array.from({ length: plan.stageCount }, () => new CounterRegistry());
    this.shuffleWatermarks = plan.shuffles.map(() => Number.NEGATIVE_INFINITY);
    this.reportedWatermarks = plan.shuffles.map(() => Number.NEGATIVE_INFINITY);
    this.outboxes = Array.from({ length: plan.stageCount }, () => new Map());
    this.finishedStages = new Array(plan.stageCount).fill(false);
  }

  get stageCount(): number {
    return this.plan.stageCount;
  }

  /** Counters of every stage (`stage` given: of that stage only), summed by name. */
  counters(stage?: number): Record<string, number> {
    const total: Record<string, number> = {};
    this.stageMetrics.forEach((registry, index) => {
      if (stage !== undefined && index !== stage) return;
      for (const [name, value] of Object.entries(registry.values())) total[name] = (total[name] ?? 0) + value;
    });
    return total;
  }

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
    const shufflePushes: Push[] = new Array(plan.shuffles.length);
    // A shuffle's sender collects into the outbox of the target subtask; its consumer is fed through shufflePushes.
    for (const shuffle of plan.shuffles) list(shuffle.from, shuffle.tag).push(this.outbound(shuffle));
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
      const stage = plan.stageOf.get(id)!;
      const operator = await this.inStep(node.uid, () => createOperator(
        node,
        {
          uid: node.uid,
          subtaskIndex: options.subtaskIndex,
          parallelism: options.parallelism,
          maxParallelism: options.maxParallelism,
          metrics: this.stageMetrics[stage]!,
          output,
          keySelectors,
          keyScope: this.keyScope,
        },
        (uid) => (options.sinkShared?.[uid] === undefined ? options.sinkContext : { ...options.sinkContext, shared: options.sinkShared[uid] }),
      ));
      created[index] = {
        id,
        uid: node.uid,
        stage,
        operator,
        upstream: inputs.filter((i) => i.node !== undefined).map((i) => indexOf.get(i.node!)!),
        fedByExit: inputs.some((i) => i.exit !== undefined),
        fedByShuffles: inputs.filter((i) => i.shuffle !== undefined).map((i) => i.shuffle!),
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
        else if (input.shuffle !== undefined) shufflePushes[input.shuffle] = push;
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
    this.shufflePushes = shufflePushes;
    for (const node of this.nodes) await this.inStep(node.uid, async () => node.operator.open?.());
  }

  /**
   * A keyBy with `keepsKey` after a keyed step of this subtask: records stay in the subtask, which is right only if
   * each keeps the key it was emitted under (Flink's reinterpretAsKeyedStream); a record that does not fails the step.
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
              'a keyBy with keepsKey must keep each record\'s key (without keepsKey it shuffles, docs/decisions.md §5)',
          ),
          key.name,
        );
      }
      push(value, timestamp);
    };
  }

  /** The sending side of a shuffle: the record goes to the outbox of the subtask its key (or this index) names. */
  private outbound(shuffle: Shuffle): Push {
    const { parallelism, maxParallelism, subtaskIndex } = this.options;
    const keyOf = shuffle.key ? checkedKeySelector(shuffle.key.name, shuffle.key.selector) : undefined;
    const outboxes = this.outboxes[shuffle.fromStage]!;
    return (value, timestamp) => {
      const target = keyOf ? subtaskForKey(keyOf(value), parallelism, maxParallelism) : subtaskIndex;
      let outbox = outboxes.get(target);
      if (!outbox) outboxes.set(target, (outbox = { records: [], shuffles: [], timestamps: [] }));
      outbox.records.push(value);
      outbox.shuffles.push(shuffle.index);
      outbox.timestamps.push(timestamp ?? Number.NaN);
    };
  }

  /**
   * What crossed into later stages since the last call, per sending stage, and the shuffles whose watermark rose
   * (after their records: a record is never behind the watermark sent after it).
   */
  takeOutput(): StageOutput[] {
    const outputs: StageOutput[] = [];
    for (let stage = 0; stage < this.outboxes.length; stage++) {
      const outboxes = this.outboxes[stage]!;
      const watermarks: Array<{ shuffle: number; watermark: number }> = [];
      for (const shuffle of this.plan.shuffles) {
        if (shuffle.fromStage !== stage) continue;
        const watermark = this.nodes.find((node) => node.id === shuffle.from)!.outputWatermark;
        if (watermark > this.reportedWatermarks[shuffle.index]!) {
          this.reportedWatermarks[shuffle.index] = watermark;
          watermarks.push({ shuffle: shuffle.index, watermark });
        }
      }
      if (outboxes.size === 0 && watermarks.length === 0) continue;
      const targets = [...outboxes].map(([subtask, outbox]) => ({ subtask, ...outbox }));
      outboxes.clear();
      outputs.push({ stage, targets, watermarks });
    }
    return outputs;
  }

  /** A record another subtask's earlier stage sent through `shuffle`. */
  deliverShuffled(shuffle: number, value: unknown, timestamp: number | null): void {
    this.keyScope.current = undefined;
    this.shufflePushes[shuffle]!(value, timestamp);
  }

  /** The minimum output watermark over every sender of `shuffle` rose: true if that changed anything here. */
  advanceShuffle(shuffle: number, watermark: number): boolean {
    if (!(watermark > this.shuffleWatermarks[shuffle]!)) return false;
    this.shuffleWatermarks[shuffle] = watermark;
    return true;
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
      for (const shuffle of node.fedByShuffles) input = Math.min(input, this.shuffleWatermarks[shuffle]!);
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

  /**
   * Processing time reached `now`: steps of stages not yet finished fire their due timers. A finished stage's timers
   * are dropped, as at the end of a single-stage run: its sinks have finished, and what it sent on now would reach
   * the next stage after that stage was told its input had ended.
   */
  onProcessingTime(now: number): void {
    for (const node of this.nodes) {
      if (this.finishedStages[node.stage]) continue;
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

  /** End of input for `stage` (every stage when not given), after its final watermark: its steps complete. */
  async finish(stage?: number): Promise<void> {
    this.propagateWatermark();
    this.finishedStages.forEach((_, index) => {
      if (stage === undefined || index === stage) this.finishedStages[index] = true;
    });
    for (const node of this.nodes) if (stage === undefined || node.stage === stage) await this.inStep(node.uid, () => node.operator.finish?.());
  }

  async abort(): Promise<void> {
    for (const node of this.nodes) await node.operator.abort?.().catch(() => undefined);
  }

  /** State of the steps of `stage` (every stage when not given). */
  snapshotOperators(stage?: number): Record<string, OperatorSnapshot> {
    const result: Record<string, OperatorSnapshot> = {};
    for (const node of this.nodes) {
      if (stage !== undefined && node.stage !== stage) continue;
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

  /** The sinks of `stage` (every stage when not given) pre-commit at a barrier. */
  async prepareCommit(checkpointId: number, stage?: number): Promise<Record<string, unknown>> {
    const pending: Record<string, unknown> = {};
    for (const node of this.nodes) {
      if (stage !== undefined && node.stage !== stage) continue;
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
