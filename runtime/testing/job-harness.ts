// A deterministic test driver for a whole job, as Kafka Streams' TopologyTestDriver: the job's real decode
// stage, ordered stage (dedupe, per-split watermarks) and subtask graphs run in this thread, fed lines by hand,
// with every sink replaced by one that keeps the rows for the test to read.

import type { SinkFactory, SinkWriter } from '../api/sink.js';
import { CoattailError } from '../errors.js';
import { buildJob, prepareJob, type JobContextInput, type JobDefinition } from '../graph/job.js';
import { LogicalGraph } from '../graph/logical-graph.js';
import { planJob, type PhysicalPlan } from '../plan/physical-plan.js';
import { DecodeStage } from '../exec/decode-stage.js';
import { CounterRegistry, addCounts } from '../exec/metrics.js';
import { OrderedStage, type OrderedStageState } from '../exec/ordered-stage.js';
import type { DedupeSegmentData } from '../exec/dedupe-journal.js';
import type { OperatorSnapshot } from '../exec/stream-operator.js';
import { SubtaskGraph } from '../exec/subtask-graph.js';
import { WatermarkCeiling } from '../exec/watermark-ceiling.js';
import { createCodec, type CodecName, type RecordCodec } from '../transport/record-codec.js';
import { copyState, narrowSnapshots, resolvePlacement, withProcessingTime, type SubtaskPlacement } from './harness-support.js';

export interface JobHarnessOptions extends Omit<SubtaskPlacement, 'subtaskIndex'> {
  /** Source splits (files, shards) fed independently, each with its own watermark; default 1. */
  readonly splits?: number;
  /** The processing-time clock at the start, in epoch milliseconds; default 0. */
  readonly processingTime?: number;
  /** Handed to the job as `-c/--config` would be. */
  readonly configPath?: string;
  /** Tell the job its source never ends (as a live market); default false. */
  readonly live?: boolean;
  /** Extra outputs as `--dlq` / `--alerts` would name them (the job decides what they mean). */
  readonly outputs?: Readonly<Record<string, string>>;
  /** Encoding of batches between stages, as `--codec`; default columnar. */
  readonly codec?: CodecName;
  /** false: as `--no-pre-aggregate`, windows get every record; default true (partials where the plan allows). */
  readonly preAggregate?: boolean;
  /** A snapshot of an earlier harness of the same job, restored at this harness's parallelism. */
  readonly restoreFrom?: JobSnapshot;
}

/** The state of a whole job at one moment, as a checkpoint holds it (sink rows excepted). */
export interface JobSnapshot {
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly processingTime: number;
  /** The coordinator's ordered stage: split watermarks and every dedupe segment (self-contained). */
  readonly ordered: { readonly state: OrderedStageState; readonly segments: ReadonlyArray<{ key: string; data: DedupeSegmentData }> };
  /** Per split: its watermark, the byte offset its next line starts at, whether it has ended. */
  readonly splits: ReadonlyArray<{ readonly watermark: number; readonly offset: number; readonly ended: boolean }>;
  /** Per old subtask: operator snapshots by step name. */
  readonly operators: ReadonlyArray<Record<string, OperatorSnapshot>>;
  readonly counters: Record<string, number>;
}

export class JobTestHarness {
  private readonly coordinatorMetrics = new CounterRegistry();
  private readonly decodeCounters: Record<string, number> = {};
  private readonly rows = new Map<string, unknown[]>();
  private readonly splitState: Array<{ offset: number; ended: boolean; idle: boolean }>;
  private readonly codec: RecordCodec;
  private ordered!: OrderedStage;
  private decode!: DecodeStage;
  private subtasks: SubtaskGraph[] = [];
  private ceiling!: WatermarkCeiling;
  private sinkSteps: string[] = [];
  private chunkSeq = 0;
  /** Per shuffle (a second keyBy, §35), per sending subtask: its output watermark; and the minimum last passed on. */
  private senderWatermarks: number[][] = [];
  private sentWatermarks: number[] = [];
  private finished = false;
  /** The job's prepare() result, made once like the coordinator does and cloned into every build. */
  private prepared: unknown;

  private constructor(
    private readonly job: JobDefinition,
    private readonly options: JobHarnessOptions,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    private clock: number,
  ) {
    const splits = options.splits ?? 1;
    if (!Number.isInteger(splits) || splits < 1) throw new CoattailError('BAD_ARGUMENT', `harness: splits must be a whole number >= 1, got ${splits}`);
    this.splitState = Array.from({ length: splits }, () => ({ offset: 0, ended: false, idle: false }));
    this.codec = createCodec(options.codec ?? 'columnar');
  }

  static async create(job: JobDefinition, options: JobHarnessOptions = {}): Promise<JobTestHarness> {
    const { parallelism, maxParallelism } = resolvePlacement(options);
    const restore = options.restoreFrom;
    const harness = new JobTestHarness(job, options, parallelism, maxParallelism, options.processingTime ?? restore?.processingTime ?? 0);
    await harness.start();
    return harness;
  }

  private async start(): Promise<void> {
    this.prepared = await prepareJob(this.job, this.context());
    const decodePlan = this.instantiate();
    this.sinkSteps = decodePlan.graph.nodes.filter((node) => node.spec.kind === 'sink').map((node) => node.uid);
    this.ordered = new OrderedStage(decodePlan.dedupe, this.coordinatorMetrics);
    this.ordered.trackSplits(this.splitState.length);
    this.decode = await DecodeStage.create(decodePlan, this.parallelism, this.maxParallelism, this.codec.name, this.options.preAggregate !== false);
    const restore = this.options.restoreFrom;
    if (restore && restore.splits.length !== this.splitState.length) {
      throw new CoattailError('RESTORE_MISMATCH', `harness: the snapshot has ${restore.splits.length} splits, this harness ${this.splitState.length}`);
    }
    if (restore && restore.maxParallelism !== this.maxParallelism) {
      throw new CoattailError('RESTORE_MISMATCH', `harness: the snapshot has ${restore.maxParallelism} key groups, this harness ${this.maxParallelism}`);
    }
    for (let subtaskIndex = 0; subtaskIndex < this.parallelism; subtaskIndex++) {
      // Each subtask builds the job anew, as each worker thread does, so function objects are not shared.
      const plan = subtaskIndex === 0 ? decodePlan : this.instantiate();
      const sinkContext = { subtaskIndex, parallelism: this.parallelism, attemptId: 'harness', outDir: '(harness)', format: 'jsonl' as const };
      const graph = await SubtaskGraph.create(plan, { subtaskIndex, parallelism: this.parallelism, maxParallelism: this.maxParallelism, sinkContext });
      this.splitState.forEach((_, split) => graph.gate.addSplit(split));
      if (restore) {
        const placement = { subtaskIndex, parallelism: this.parallelism, maxParallelism: this.maxParallelism };
        const byStep: Record<string, OperatorSnapshot[]> = {};
        for (const operators of restore.operators) {
          for (const [step, snapshot] of Object.entries(operators)) (byStep[step] ??= []).push(...narrowSnapshots([snapshot], placement));
        }
        graph.restoreOperators(byStep);
        restore.splits.forEach((split, index) => graph.gate.advance(index, split.watermark));
        // As a restored subtask thread does: fire what the restored split watermarks make due before any record.
        graph.propagateWatermark();
        await graph.flush();
      }
      this.subtasks.push(graph);
    }
    if (restore) {
      this.ordered.restore(copyState(restore.ordered.state), copyState(restore.ordered.segments));
      restore.splits.forEach((split, index) => {
        Object.assign(this.splitState[index]!, { offset: split.offset, ended: split.ended });
        if (split.ended) this.ordered.endSplit(index);
      });
      addCounts(this.decodeCounters, restore.counters);
    }
    this.senderWatermarks = decodePlan.shuffles.map(() => new Array(this.parallelism).fill(Number.NEGATIVE_INFINITY));
    this.sentWatermarks = decodePlan.shuffles.map(() => Number.NEGATIVE_INFINITY);
    await this.route();
    this.ceiling = new WatermarkCeiling(
      {
        count: () => this.splitState.length,
        watermark: (split) => this.splitWatermark(split),
        active: (split) => this.splitState[split]!.ended || !this.splitState[split]!.idle,
      },
      restore ? Math.max(...restore.splits.map((split) => split.watermark)) : Number.NEGATIVE_INFINITY,
    );
  }

  /** Build the job's graph with every sink replaced by a capturing one, and plan it. */
  private context(): JobContextInput {
    const { configPath, live, outputs } = this.options;
    return { ...(configPath ? { configPath } : {}), live: live ?? false, outputs: outputs ?? {} };
  }

  private instantiate(): PhysicalPlan {
    const env = buildJob(this.job, this.context(), structuredClone(this.prepared));
    const graph = new LogicalGraph();
    for (const node of env.graph.nodes) {
      const spec = node.spec.kind === 'sink' ? { kind: 'sink' as const, factory: this.capture(node.uid, node.spec.factory.name) } : node.spec;
      graph.add(node.uid, spec, node.inputs);
    }
    return planJob(graph);
  }

  private capture(step: string, name: string): SinkFactory<unknown> {
    const rows = this.rows.get(step) ?? [];
    this.rows.set(step, rows);
    const writer: SinkWriter<unknown> = {
      write: (batch) => void rows.push(...copyState(batch)),
      prepareCommit: async () => null,
      commit: async () => undefined,
      finish: async () => rows.length,
      abort: async () => undefined,
    };
    return { name, create: () => writer };
  }

  /** The processing-time clock the job sees through `Date.now()`. */
  get processingTime(): number {
    return this.clock;
  }

  /**
   * Feed one chunk of a split: each string is one line of input (framed as in a file, byte offsets included).
   * The chunk goes through the whole job; sinks have received their rows when this resolves.
   */
  async pipeInput(lines: string | readonly string[], options: { readonly split?: number } = {}): Promise<void> {
    const split = this.openSplit(options.split ?? 0, 'pipe input into');
    const text = (typeof lines === 'string' ? [lines] : lines).map((line) => `${line}\n`).join('');
    const bytes = new TextEncoder().encode(text);
    const state = this.splitState[split]!;
    const payload = { kind: 'lines' as const, bytes, firstOffset: state.offset };
    state.offset += bytes.length;
    if (state.idle) await this.setIdle(split, false);
    const request = { chunkSeq: this.chunkSeq++, origin: `harness:split-${split}`, payload };
    let result = withProcessingTime(this.clock, () => this.decode.decode(request));
    if (result.partialsFireAt !== undefined) {
      // As the coordinator: partials only while no subtask can have reached the watermark that makes one late.
      this.ceiling.update();
      if (result.partialsFireAt <= this.ceiling.value) {
        result = withProcessingTime(this.clock, () => this.decode.decode({ ...request, preAggregate: false }));
      }
    }
    this.coordinatorMetrics.counter('records_in').inc(result.recordsIn);
    addCounts(this.decodeCounters, result.counters);
    const stamps = this.ordered.apply(split, result);
    this.ceiling.update();
    for (let t = 0; t < result.targets.length; t++) {
      const target = result.targets[t]!;
      const graph = this.subtasks[target.subtask]!;
      const records = this.codec.decode(target.records);
      const batchStamps = stamps[t]!;
      withProcessingTime(this.clock, () => {
        for (let i = 0; i < records.length; i++) {
          const stamp = batchStamps[i]!;
          if (Number.isNaN(stamp)) continue; // a duplicate dropped by the ordered stage
          const eventTime = target.eventTimes[i]!;
          graph.deliver(split, stamp, records[i], target.exitMasks[i]!, Number.isNaN(eventTime) ? null : eventTime);
        }
      });
      await graph.flush();
    }
    await this.route();
    // As the coordinator: after the chunk every subtask learns the split's watermark, records of its own or not.
    const watermark = this.ordered.splitWatermark(split);
    await this.broadcast((graph) => watermark > graph.gate.splitWatermark(split) && graph.gate.advance(split, watermark) && graph.propagateWatermark());
  }

  /** Mark a split idle (it stops holding the watermark back) or active again. */
  async setIdle(split: number, idle = true): Promise<void> {
    this.openSplit(split, 'mark idle');
    this.splitState[split]!.idle = idle;
    this.ordered.setIdle(split, idle);
    this.ceiling.update();
    await this.broadcast((graph) => graph.gate.setIdle(split, idle) && graph.propagateWatermark());
  }

  /** End a split: its watermark goes to +infinity. */
  async endSplit(split: number): Promise<void> {
    this.openSplit(split, 'end');
    this.splitState[split]!.ended = true;
    this.ordered.endSplit(split);
    this.ceiling.update();
    await this.broadcast((graph) => graph.gate.endSplit(split) && graph.propagateWatermark());
  }

  /** Move the processing-time clock (never backwards) and fire the processing-time timers now due. */
  async setProcessingTime(now: number): Promise<void> {
    if (now < this.clock) throw new CoattailError('BAD_ARGUMENT', `harness: processing time cannot go back from ${this.clock} to ${now}`);
    this.clock = now;
    await this.broadcast((graph) => graph.onProcessingTime(now));
  }

  /** End of a bounded input: every split ends, every open window fires, sinks finish. */
  async finish(): Promise<void> {
    if (this.finished) return;
    for (let split = 0; split < this.splitState.length; split++) if (!this.splitState[split]!.ended) await this.endSplit(split);
    // Stage by stage, as the coordinator: a stage ends once every subtask's earlier stage has sent all it produced.
    const stages = this.subtasks[0]!.stageCount;
    for (let stage = 0; stage < stages; stage++) {
      for (const graph of this.subtasks) {
        await withProcessingTime(this.clock, () => graph.finish(stage));
        await graph.flush();
      }
      await this.route();
    }
    this.finished = true;
  }

  /** Rows the sink step named `step` (the name given to `sinkTo`) received, in the order they were written. */
  output<T = unknown>(step: string): T[] {
    if (!this.sinkSteps.includes(step)) {
      throw new CoattailError('BAD_ARGUMENT', `harness: no sink step "${step}" in job "${this.job.name}" (sinks: ${this.sinkSteps.join(', ') || 'none'})`);
    }
    return [...(this.rows.get(step) ?? [])] as T[];
  }

  /** Every counter of the run, summed as in `_summary.json` (dotted names not nested). */
  counters(): Record<string, number> {
    const total: Record<string, number> = {};
    addCounts(total, this.coordinatorMetrics.values());
    addCounts(total, this.decodeCounters);
    for (const graph of this.subtasks) addCounts(total, graph.counters());
    return total;
  }

  /** A split's watermark: the max event time it has delivered (-Infinity before any, +Infinity once ended). */
  splitWatermark(split: number): number {
    return this.splitState[split]?.ended ? Number.POSITIVE_INFINITY : this.ordered.splitWatermark(split);
  }

  /** The state of the job now; restore it with `JobTestHarness.create(job, { restoreFrom, parallelism })`. */
  snapshot(): JobSnapshot {
    return copyState({
      parallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      processingTime: this.clock,
      ordered: this.orderedSnapshot(),
      splits: this.splitState.map((state, split) => ({ watermark: this.splitWatermark(split), offset: state.offset, ended: state.ended })),
      operators: this.subtasks.map((graph) => graph.snapshotOperators()),
      counters: this.counters(),
    });
  }

  /** Never confirmed, so every snapshot lists all dedupe segments and stands on its own. */
  private orderedSnapshot(): JobSnapshot['ordered'] {
    const { state, files } = this.ordered.snapshot((index) => `harness/dedupe-${this.chunkSeq}-${index}`);
    return { state, segments: files };
  }

  private openSplit(split: number, what: string): number {
    if (this.finished) throw new CoattailError('BAD_ARGUMENT', `harness: cannot ${what} a split after finish()`);
    const state = this.splitState[split];
    if (!state) throw new CoattailError('BAD_ARGUMENT', `harness: there is no split ${split} (this harness has ${this.splitState.length})`);
    if (state.ended) throw new CoattailError('BAD_ARGUMENT', `harness: split ${split} has ended`);
    return split;
  }

  private async broadcast(work: (graph: SubtaskGraph) => unknown): Promise<void> {
    for (const graph of this.subtasks) {
      withProcessingTime(this.clock, () => work(graph));
      await graph.flush();
    }
    await this.route();
  }

  /**
   * What the subtasks' stages sent into later stages, delivered as the coordinator's router does (records through
   * the codec, then each shuffle's minimum watermark over its senders), until nothing more crosses.
   */
  private async route(): Promise<void> {
    for (let moved = true; moved; ) {
      moved = false;
      for (let from = 0; from < this.subtasks.length; from++) {
        for (const output of this.subtasks[from]!.takeOutput()) {
          moved = true;
          for (const target of output.targets) {
            const graph = this.subtasks[target.subtask]!;
            const records = this.codec.decode(this.codec.encode(target.records));
            withProcessingTime(this.clock, () => {
              records.forEach((record, i) => {
                const timestamp = target.timestamps[i]!;
                graph.deliverShuffled(target.shuffles[i]!, record, Number.isNaN(timestamp) ? null : timestamp);
              });
            });
            await graph.flush();
          }
          for (const { shuffle, watermark } of output.watermarks) {
            this.senderWatermarks[shuffle]![from] = watermark;
            const minimum = Math.min(...this.senderWatermarks[shuffle]!);
            if (!(minimum > this.sentWatermarks[shuffle]!)) continue;
            this.sentWatermarks[shuffle] = minimum;
            for (const graph of this.subtasks) {
              withProcessingTime(this.clock, () => graph.advanceShuffle(shuffle, minimum) && graph.propagateWatermark());
              await graph.flush();
            }
          }
        }
      }
    }
  }
}
