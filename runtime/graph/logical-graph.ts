// The logical graph a job file builds: named operators joined by forward, side-output and keyBy edges.

import type { Source } from '../api/source.js';
import type { SinkFactory } from '../api/sink.js';
import type {
  AggregateFunction,
  CoProcessFunction,
  KeyedProcessFunction,
  ProcessFunction,
  ProcessWindowFunction,
  WindowAssigner,
  WindowOptions,
} from './functions.js';

// The graph is untyped inside: the typed builder in data-stream.ts guarantees the types at the edges.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyFunction = (...args: any[]) => any;

export interface DedupeSpec {
  /** The step's name, for messages. */
  readonly name?: string;
  readonly key: (value: any) => string;
  readonly timestamp: (value: any) => number;
  /** An id already passed whose event time is within this horizon of the current record is a duplicate. */
  readonly withinMs: number;
  readonly passedCounter?: string;
  readonly duplicateCounter?: string;
}

export interface WatermarkSpec {
  /** The step's name, for messages. */
  readonly name: string;
  readonly timestamp: (value: any) => number;
  /** A split without records for this long is idle and stops holding the watermark back. */
  readonly idleMs: number;
}

export type NodeSpec =
  | { readonly kind: 'source'; readonly source?: Source }
  | { readonly kind: 'map'; readonly fn: AnyFunction }
  | { readonly kind: 'filter'; readonly fn: AnyFunction }
  | { readonly kind: 'flatMap'; readonly fn: AnyFunction }
  | { readonly kind: 'process'; readonly fn: ProcessFunction<any, any> }
  | { readonly kind: 'dedupe'; readonly spec: DedupeSpec }
  | { readonly kind: 'watermarks'; readonly spec: WatermarkSpec }
  | { readonly kind: 'keyedProcess'; readonly fn: KeyedProcessFunction<any, any> }
  | { readonly kind: 'coProcess'; readonly fn: CoProcessFunction<any, any, any> }
  | {
      readonly kind: 'window';
      readonly assigner: WindowAssigner;
      readonly options: WindowOptions;
      readonly aggregate: AggregateFunction<any, any, any>;
      readonly windowFunction?: ProcessWindowFunction<any, any>;
      readonly lateTag?: string;
    }
  | { readonly kind: 'union' }
  | { readonly kind: 'sink'; readonly factory: SinkFactory<any> };

export type NodeKind = NodeSpec['kind'];

export interface KeySpec {
  /** The keyBy step's own name, part of the plan's stable ids. */
  readonly name: string;
  readonly selector: (value: any) => string;
  /**
   * After a subtask step: the records are already partitioned by this key, so they stay in their subtask (Flink's
   * reinterpretAsKeyedStream), checked per record. Otherwise such a keyBy shuffles into the next stage.
   */
  readonly keepsKey?: boolean;
}

export interface InputEdge {
  readonly node: number;
  /** Read this side output of the upstream node instead of its main output. */
  readonly tag?: string;
  /** A keyBy: a hash shuffle by this key. */
  readonly key?: KeySpec;
  /** For two-input operators: which input (1 or 2). */
  readonly port?: 1 | 2;
}

export interface LogicalNode {
  readonly id: number;
  /** The stable operator id, the name the job gave the step; checkpoints map state by it. */
  readonly uid: string;
  readonly spec: NodeSpec;
  readonly inputs: InputEdge[];
}

export class LogicalGraph {
  readonly nodes: LogicalNode[] = [];

  add(uid: string, spec: NodeSpec, inputs: InputEdge[]): LogicalNode {
    const node: LogicalNode = { id: this.nodes.length, uid, spec, inputs };
    this.nodes.push(node);
    return node;
  }

  node(id: number): LogicalNode {
    const node = this.nodes[id];
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Nodes reading from `id` (any output), with the edge they read through. */
  consumersOf(id: number): Array<{ node: LogicalNode; edge: InputEdge }> {
    const result: Array<{ node: LogicalNode; edge: InputEdge }> = [];
    for (const node of this.nodes) {
      for (const edge of node.inputs) if (edge.node === id) result.push({ node, edge });
    }
    return result;
  }
}
