// Splits a logical graph into where each step runs: the decode pool, the coordinator's ordered stage, subtasks.

import { CoattailError } from '../errors.js';
import type { DedupeSpec, InputEdge, KeySpec, LogicalGraph, LogicalNode, WatermarkSpec } from '../graph/logical-graph.js';
import type { AggregateFunction, WindowAssigner } from '../graph/functions.js';
import { parseDuration } from '../time/duration.js';

/** An edge on which records leave one thread's steps for a subtask's: from a node's output (or side output) into a step's port. */
interface CrossingEdge {
  readonly index: number;
  readonly from: number;
  readonly tag?: string;
  readonly to: number;
  readonly port: 1 | 2;
  /** Routed by this key's group; without one, to any subtask (an exit) or the same subtask index (a shuffle). */
  readonly key?: KeySpec;
}

/**
 * Records leave the decode stage through exits. An exit names the worker-side step it feeds and how records
 * are routed to subtasks: by key (a keyBy) or to any subtask (rebalance). `from` is the decode-stage node (or the
 * ordered stage's last node) whose output leaves.
 */
export interface Exit extends CrossingEdge {
  /** Passed through the coordinator's ordered stage: subject to dedupe, carries event time. */
  readonly ordered: boolean;
}

/**
 * A keyed exit straight into a window whose aggregate can merge accumulators: the decode stage may send one
 * accumulator per key and window of a chunk (a partial) through `partialExit` instead of the records.
 */
export interface PreAggregatedExit {
  readonly exit: number;
  /** The exit bit partials travel on (after every record exit). */
  readonly partialExit: number;
  readonly window: number;
  readonly key: KeySpec;
  readonly assigner: WindowAssigner;
  readonly delayMs: number;
  readonly aggregate: AggregateFunction<unknown, unknown, unknown> & { merge(earlier: unknown, later: unknown): unknown };
}

/**
 * A keyBy after a subtask step (or an edge between steps of different stages): records cross from the subtasks of
 * one stage to those of the next through the coordinator, by key group, or to the same subtask index without a key.
 */
export interface Shuffle extends CrossingEdge {
  /** The stage of `from`; `to` is in the next one. */
  readonly fromStage: number;
}

export interface PhysicalPlan {
  readonly graph: LogicalGraph;
  readonly source: LogicalNode;
  /** Stateless steps run by the decode pool, in topological order. */
  readonly decodeNodes: readonly number[];
  /** The coordinator's ordered steps (dedupe, event time), applied in source order to what enters them. */
  readonly orderedNodes: readonly number[];
  /**
   * Pure steps (map, filter, flatMap) after the ordered stage, also run by the decode pool so a keyBy after them
   * is still routed there. They may see duplicates the ordered stage drops later, which pure steps cannot tell.
   */
  readonly orderedDecodeNodes: readonly number[];
  readonly dedupe?: DedupeSpec;
  readonly watermarks?: WatermarkSpec;
  readonly exits: readonly Exit[];
  /** Exits whose records may travel pre-aggregated (see PreAggregatedExit). */
  readonly preAggregated: readonly PreAggregatedExit[];
  /** Steps run inside each subtask, in topological order. */
  readonly workerNodes: readonly number[];
  /** For each worker node, which exits, shuffles or worker nodes of its own stage feed it. */
  readonly workerInputs: ReadonlyMap<number, ReadonlyArray<WorkerInput>>;
  /** For each worker node, its stage: 0 is fed by the decode stage, each shuffle leads into the next (§35). */
  readonly stageOf: ReadonlyMap<number, number>;
  readonly stageCount: number;
  readonly shuffles: readonly Shuffle[];
}

export interface WorkerInput {
  readonly exit?: number;
  readonly shuffle?: number;
  readonly node?: number;
  readonly edge: InputEdge;
}

const STATELESS = new Set(['map', 'filter', 'flatMap', 'process']);
const ORDERED = new Set(['dedupe', 'watermarks']);
const PURE = new Set(['map', 'filter', 'flatMap']);

export function planJob(graph: LogicalGraph): PhysicalPlan {
  const sources = graph.nodes.filter((n) => n.spec.kind === 'source');
  if (sources.length !== 1) {
    throw new CoattailError('JOB_INVALID', `a job needs exactly one source, this one has ${sources.length} (combine feeds in one source URI)`);
  }
  const source = sources[0]!;

  // Decode stage: stateless steps reached from the source through forward edges only.
  const decode = new Set<number>();
  const visit = (id: number) => {
    for (const { node, edge } of graph.consumersOf(id)) {
      if (edge.key || decode.has(node.id)) continue;
      const joins = STATELESS.has(node.spec.kind) ? node.inputs.length === 1 : isUnionOf(node, (input) => decode.has(input) || input === source.id);
      if (!joins) continue;
      decode.add(node.id);
      visit(node.id);
    }
  };
  visit(source.id);

  // Ordered stage: one chain of dedupe/watermarks steps fed by the decode stage.
  const orderedNodes: number[] = [];
  let dedupe: DedupeSpec | undefined;
  let watermarks: WatermarkSpec | undefined;
  let cursor = findOrderedHead(graph, source.id, decode);
  while (cursor) {
    if (cursor.spec.kind === 'dedupe') {
      if (dedupe) throw invalid(`only one dedupe step is supported ("${cursor.uid}")`);
      dedupe = cursor.spec.spec;
    } else if (cursor.spec.kind === 'watermarks') {
      if (watermarks) throw invalid(`only one withWatermarks step is supported ("${cursor.uid}")`);
      watermarks = cursor.spec.spec;
    }
    orderedNodes.push(cursor.id);
    const next = graph.consumersOf(cursor.id).filter(({ node, edge }) => ORDERED.has(node.spec.kind) && !edge.key);
    cursor = next.length === 1 ? next[0]!.node : undefined;
  }
  for (const node of graph.nodes) {
    if (ORDERED.has(node.spec.kind) && !orderedNodes.includes(node.id)) {
      throw invalid(`"${node.uid}" must follow the stateless steps after the source directly (dedupe and withWatermarks run in source order on the coordinator)`);
    }
  }
  const orderedTail = orderedNodes[orderedNodes.length - 1];
  const orderedDecode = new Set<number>();
  const visitPure = (id: number) => {
    for (const { node, edge } of graph.consumersOf(id)) {
      if (edge.key || edge.tag !== undefined || orderedDecode.has(node.id)) continue;
      const joins = PURE.has(node.spec.kind)
        ? node.inputs.length === 1
        : isUnionOf(node, (input) => orderedDecode.has(input) || input === orderedTail, { sideOutputs: false });
      if (!joins) continue;
      orderedDecode.add(node.id);
      visitPure(node.id);
    }
  };
  if (orderedTail !== undefined) visitPure(orderedTail);

  // Everything else runs in the subtasks; edges into it from the decode/ordered stages are exits.
  const stageOf = (id: number) =>
    id === source.id ? 'source' : decode.has(id) ? 'decode' : orderedNodes.includes(id) || orderedDecode.has(id) ? 'ordered' : 'worker';
  const exits: Exit[] = [];
  const workerNodes = topologicalOrder(graph).filter((id) => stageOf(id) === 'worker');
  const stages = assignStages(graph, workerNodes, (id) => stageOf(id) === 'worker');
  const shuffles: Shuffle[] = [];
  const workerInputs = new Map<number, WorkerInput[]>();
  for (const id of workerNodes) {
    const node = graph.node(id);
    const inputs: WorkerInput[] = [];
    for (const edge of node.inputs) {
      const upstreamStage = stageOf(edge.node);
      if (upstreamStage === 'worker') {
        if (stages.get(edge.node) === stages.get(id)) {
          // Same stage: a keyBy here keeps the key (checked per record, SubtaskGraph).
          inputs.push({ node: edge.node, edge });
          continue;
        }
        const shuffle: Shuffle = {
          index: shuffles.length,
          from: edge.node,
          ...(edge.tag === undefined ? {} : { tag: edge.tag }),
          to: id,
          port: edge.port ?? 1,
          ...(edge.key ? { key: edge.key } : {}),
          fromStage: stages.get(edge.node)!,
        };
        shuffles.push(shuffle);
        inputs.push({ shuffle: shuffle.index, edge });
        continue;
      }
      if (stages.get(id) !== 0) {
        const through = edge.key ? ` (keyBy "${edge.key.name}")` : '';
        throw invalid(
          `"${node.uid}" reads both the source side${through} and what a second keyBy shuffles; pass the source side's records through a keyed step after their first keyBy and keyBy them again from there`,
        );
      }
      if (orderedNodes.includes(edge.node) && edge.node !== orderedTail) throw invalid(`"${node.uid}" reads between dedupe and withWatermarks`);
      if (upstreamStage === 'source') throw invalid(`"${node.uid}" reads raw records directly; add a stateless parse step first`);
      const exit: Exit = {
        index: exits.length,
        from: edge.node,
        ...(edge.tag === undefined ? {} : { tag: edge.tag }),
        to: id,
        port: edge.port ?? 1,
        ...(edge.key ? { key: edge.key } : {}),
        ordered: upstreamStage === 'ordered',
      };

      exits.push(exit);
      inputs.push({ exit: exit.index, edge });
    }
    workerInputs.set(id, inputs);
  }
  if (shuffles.length > 31) throw invalid('more than 31 edges cross between subtask stages');
  const preAggregated = preAggregatedExits(graph, exits, dedupe !== undefined);
  if (exits.length + preAggregated.length > 31) throw invalid('more than 31 edges leave the decode stage');
  for (const id of workerNodes) {
    const node = graph.node(id);
    if (node.spec.kind === 'window' && !watermarks) throw invalid(`window "${node.uid}" needs event time: add withWatermarks(...) before keyBy`);
    if ((node.spec.kind === 'window' || node.spec.kind === 'keyedProcess' || node.spec.kind === 'coProcess') && node.inputs.some((e) => !e.key)) {
      throw invalid(`"${node.uid}" is keyed and needs keyBy(...) on its input${node.spec.kind === 'coProcess' ? 's' : ''}`);
    }
  }
  return {
    graph,
    source,
    decodeNodes: topologicalOrder(graph).filter((id) => decode.has(id)),
    orderedNodes,
    orderedDecodeNodes: topologicalOrder(graph).filter((id) => orderedDecode.has(id)),
    ...(dedupe ? { dedupe } : {}),
    ...(watermarks ? { watermarks } : {}),
    exits,
    preAggregated,
    workerNodes,
    workerInputs,
    stageOf: stages,
    stageCount: Math.max(0, ...stages.values()) + 1,
    shuffles,
  };
}

/**
 * Stages of the subtask steps: a keyBy on a subtask step's output shuffles into the next stage, unless it says the
 * records keep their key (`keepsKey`, Flink's reinterpretAsKeyedStream). A step reading from several stages runs
 * in the latest; an input from the stage before crosses as a shuffle too (to the same subtask index when unkeyed),
 * so every stage's input comes from the stage just before it and barriers align per stage (§35).
 */
function assignStages(graph: LogicalGraph, workerNodes: readonly number[], isWorker: (id: number) => boolean): Map<number, number> {
  const stages = new Map<number, number>();
  for (const id of workerNodes) {
    let stage = 0;
    for (const edge of graph.node(id).inputs) {
      if (!isWorker(edge.node)) continue;
      const upstream = stages.get(edge.node)!;
      stage = Math.max(stage, edge.key && !edge.key.keepsKey ? upstream + 1 : upstream);
    }
    stages.set(id, stage);
  }
  for (const id of workerNodes) {
    const node = graph.node(id);
    for (const edge of node.inputs) {
      if (isWorker(edge.node) && stages.get(id)! - stages.get(edge.node)! > 1) {
        throw invalid(`"${node.uid}" reads from "${graph.node(edge.node).uid}" across more than one keyBy; pass its records through the stage between (a union with that stage's stream)`);
      }
    }
  }
  return stages;
}

/**
 * Keyed, event-time exits into a window with a mergeable aggregate. Not with dedupe: the ordered stage drops
 * duplicates after decoding, and a partial cannot take one record back out. Not into session windows: a
 * session's extent depends on the key's records in other chunks too, so a chunk cannot know which window a
 * record ends up in.
 */
function preAggregatedExits(graph: LogicalGraph, exits: readonly Exit[], dedupe: boolean): PreAggregatedExit[] {
  if (dedupe) return [];
  const found: PreAggregatedExit[] = [];
  for (const exit of exits) {
    const node = graph.node(exit.to);
    const spec = node.spec;
    if (!exit.ordered || !exit.key || spec.kind !== 'window' || node.inputs.length !== 1) continue;
    const aggregate = spec.aggregate as AggregateFunction<unknown, unknown, unknown>;
    if (typeof aggregate.merge !== 'function' || spec.assigner.sessionGapMs !== undefined) continue;
    found.push({
      exit: exit.index,
      partialExit: exits.length + found.length,
      window: node.id,
      key: exit.key,
      assigner: spec.assigner,
      delayMs: parseDuration(spec.options.delay ?? 0, `${node.uid}: delay`),
      aggregate: aggregate as PreAggregatedExit['aggregate'],
    });
  }
  return found;
}

/**
 * A union whose every input runs in the same stage joins that stage: it only passes records on, so a keyBy
 * after it is still routed where records are parsed (a keyBy after a subtask step starts the next stage, §35).
 */
function isUnionOf(node: LogicalNode, inStage: (input: number) => boolean, options: { sideOutputs: boolean } = { sideOutputs: true }): boolean {
  return (
    node.spec.kind === 'union' &&
    node.inputs.every((edge) => !edge.key && (options.sideOutputs || edge.tag === undefined) && inStage(edge.node))
  );
}

function findOrderedHead(graph: LogicalGraph, sourceId: number, decode: Set<number>): LogicalNode | undefined {
  const heads = graph.nodes.filter(
    (n) => ORDERED.has(n.spec.kind) && n.inputs.length === 1 && !n.inputs[0]!.key && (decode.has(n.inputs[0]!.node) || n.inputs[0]!.node === sourceId),
  );
  if (heads.length > 1) throw invalid('only one chain of dedupe/withWatermarks after the source is supported');
  return heads[0];
}

function topologicalOrder(graph: LogicalGraph): number[] {
  // Nodes are added by the builder after their inputs, so id order is a topological order.
  return graph.nodes.map((n) => n.id);
}

function invalid(message: string): CoattailError {
  return new CoattailError('JOB_INVALID', message);
}
