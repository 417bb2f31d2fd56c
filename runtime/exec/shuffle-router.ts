// Routes what the subtasks' stages send into the next stage (a second keyBy, docs/decisions.md §35): batches to
// their target subtasks, each shuffle's watermark as the minimum over its senders, barriers aligned per stage, end
// of input stage by stage, and backpressure by holding a sender's credit until what it produced is processed.

import type { FromSubtask, ToSubtask } from './messages.js';
import type { SubtaskPool } from './subtask-pool.js';

type ShuffleOut = Extract<FromSubtask, { type: 'shuffle-out' }>;

/** The batches one subtask sent between two of its completions (a credit or a shuffle-ack). */
interface ProducedGroup {
  outstanding: number;
  /** The completion, deferred until every batch of the group is processed by its target. */
  done?: () => void;
}

interface RoutedOutput {
  readonly message: ShuffleOut;
  readonly tokens: readonly number[];
}

export class ShuffleRouter {
  private nextToken = 0;
  private readonly groupOfToken = new Map<number, ProducedGroup>();
  /** Per subtask: the group of batches it sent since its last completion. */
  private readonly openGroups: Array<ProducedGroup | undefined>;
  /** Per shuffle, per sending subtask: its output watermark. */
  private readonly senderWatermarks: number[][];
  /** Per shuffle: the minimum last sent to the subtasks. */
  private readonly sentWatermarks: number[];
  /** Per sending stage, per subtask: the checkpoint whose barrier it passed there while others have not yet. */
  private readonly passedBarrier: Array<Array<number | undefined>>;
  /** Per sending stage, per subtask: output after the barrier it passed, held until the next stage's barrier is sent. */
  private readonly held: RoutedOutput[][][];
  /** Per stage: how many subtasks have finished it. */
  private readonly finishedCount: number[];
  /** Whether the run drains its input at the end (set before end of input is sent). */
  drain = true;

  constructor(
    private readonly subtasks: SubtaskPool,
    stageCount: number,
    shuffleCount: number,
  ) {
    const parallelism = subtasks.subtasks.length;
    this.openGroups = new Array(parallelism).fill(undefined);
    this.senderWatermarks = Array.from({ length: shuffleCount }, () => new Array(parallelism).fill(Number.NEGATIVE_INFINITY));
    this.sentWatermarks = new Array(shuffleCount).fill(Number.NEGATIVE_INFINITY);
    this.passedBarrier = Array.from({ length: stageCount }, () => new Array(parallelism).fill(undefined));
    this.held = Array.from({ length: stageCount }, () => Array.from({ length: parallelism }, () => []));
    this.finishedCount = new Array(stageCount).fill(0);
  }

  /** Handles the messages of the stage protocol; false for any other message. */
  onMessage(from: number, message: FromSubtask): boolean {
    switch (message.type) {
      case 'shuffle-out':
        this.route(from, message);
        return true;
      case 'shuffle-ack':
        this.acknowledge(from, message.token);
        return true;
      case 'stage-passed':
        this.barrierPassed(from, message.stage, message.checkpointId);
        return true;
      case 'stage-finished':
        this.stageFinished(message.stage);
        return true;
      default:
        return false;
    }
  }

  /**
   * A subtask finished a source batch: its credit returns once every batch that batch made it send is processed,
   * so a stage that sends faster than the next one takes them in stops being fed (no unbounded queue here).
   */
  completeCredit(from: number, release: () => void): void {
    this.complete(from, release);
  }

  private route(from: number, message: ShuffleOut): void {
    const group = (this.openGroups[from] ??= { outstanding: 0 });
    const tokens = message.targets.map(() => {
      const token = this.nextToken++;
      this.groupOfToken.set(token, group);
      group.outstanding++;
      return token;
    });
    const output: RoutedOutput = { message, tokens };
    if (this.passedBarrier[message.stage]![from] !== undefined) this.held[message.stage]![from]!.push(output);
    else this.forward(from, output);
  }

  /** Batches first, then the watermarks the sender raised after them: a record never arrives behind its watermark. */
  private forward(from: number, { message, tokens }: RoutedOutput): void {
    message.targets.forEach(({ subtask, records, shuffles, timestamps }, index) => {
      this.post(subtask, { type: 'shuffled', token: tokens[index]!, records, shuffles, timestamps }, [
        records.buffer as ArrayBuffer,
        shuffles.buffer as ArrayBuffer,
        timestamps.buffer as ArrayBuffer,
      ]);
    });
    for (const { shuffle, watermark } of message.watermarks) {
      const senders = this.senderWatermarks[shuffle]!;
      senders[from] = watermark;
      const minimum = Math.min(...senders);
      if (minimum > this.sentWatermarks[shuffle]!) {
        this.sentWatermarks[shuffle] = minimum;
        this.subtasks.broadcast({ type: 'shuffle-watermark', shuffle, watermark: minimum });
      }
    }
  }

  private acknowledge(from: number, token: number): void {
    const group = this.groupOfToken.get(token);
    this.groupOfToken.delete(token);
    // The target's own output for this batch (sent before the ack) must be processed before the sender hears of it.
    this.complete(from, () => group && this.settle(group));
  }

  private complete(from: number, done: () => void): void {
    const group = this.openGroups[from];
    this.openGroups[from] = undefined;
    if (!group || group.outstanding === 0) done();
    else group.done = done;
  }

  private settle(group: ProducedGroup): void {
    group.outstanding--;
    if (group.outstanding > 0 || !group.done) return;
    const done = group.done;
    delete group.done;
    done();
  }

  /**
   * Barrier alignment, as Flink's: once every subtask has passed the barrier in `stage` and sent what came before
   * it, the next stage's barrier follows that output in every subtask's queue; output sent after a subtask passed
   * the barrier was held meanwhile and follows the barrier.
   */
  private barrierPassed(from: number, stage: number, checkpointId: number): void {
    const passed = this.passedBarrier[stage]!;
    passed[from] = checkpointId;
    if (!passed.every((id) => id === checkpointId)) return;
    this.subtasks.broadcast({ type: 'stage-barrier', stage: stage + 1, checkpointId });
    passed.fill(undefined);
    this.held[stage]!.forEach((outputs, sender) => {
      for (const output of outputs.splice(0)) this.forward(sender, output);
    });
  }

  /** Every subtask finished `stage` and sent all it produced: the next stage ends. */
  private stageFinished(stage: number): void {
    this.finishedCount[stage]!++;
    if (this.finishedCount[stage] === this.subtasks.subtasks.length) this.subtasks.broadcast({ type: 'stage-end', stage: stage + 1, drain: this.drain });
  }

  private post(subtask: number, message: ToSubtask, transfer: ArrayBuffer[]): void {
    this.subtasks.subtasks[subtask]!.post(message, transfer);
  }
}
