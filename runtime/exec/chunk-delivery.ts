// What the coordinator sends the subtasks as it applies chunks in source order: each chunk's batches under
// credits, then the split's new watermark; and a split's idleness, to the ordered stage and every gate at once.

import type { DecodeResult } from './decode-result.js';
import type { OrderedStage } from './ordered-stage.js';
import type { SubtaskPool } from './subtask-pool.js';

export class ChunkDelivery {
  /** Per subtask, per split: the highest watermark sent to it, by a record's stamp or a watermark message. */
  private readonly announced: number[][];

  constructor(
    private readonly subtasks: SubtaskPool,
    private readonly ordered: OrderedStage,
  ) {
    this.announced = subtasks.subtasks.map(() => []);
  }

  /** Each target subtask's batch of the chunk, posted once the subtask has a credit: no credit, no reading. */
  async postBatches(split: number, result: DecodeResult, stamps: Float64Array[]): Promise<void> {
    for (let t = 0; t < result.targets.length; t++) {
      const { subtask: target, records, exitMasks, eventTimes } = result.targets[t]!;
      const subtask = this.subtasks.subtasks[target]!;
      await subtask.credits.acquire();
      const stampArray = stamps[t]!;
      subtask.post({ type: 'batch', split, records, exitMasks, stamps: stampArray, eventTimes }, [
        records.buffer as ArrayBuffer,
        exitMasks.buffer as ArrayBuffer,
        stampArray.buffer as ArrayBuffer,
        eventTimes.buffer as ArrayBuffer,
      ]);
    }
  }

  /**
   * After a chunk, every subtask's gate learns the split's new watermark, as Flink sends watermarks down every
   * channel: a subtask that no record of the chunk went to (its keys are quiet) would otherwise fire its windows and
   * timers only with its next record. Stamps already carry what the records before the last one raised it to.
   */
  announceWatermark(split: number): void {
    const watermark = this.ordered.splitWatermark(split);
    for (let subtask = 0; subtask < this.announced.length; subtask++) {
      const sent = this.announced[subtask]!;
      if (!(watermark > (sent[split] ?? Number.NEGATIVE_INFINITY))) continue;
      sent[split] = watermark;
      this.subtasks.subtasks[subtask]!.post({ type: 'watermark', split, watermark });
    }
  }

  /** The ordered stage and every subtask's gate learn together that a split went idle or is active again. */
  setSplitIdle(split: number, idle: boolean): void {
    this.ordered.setIdle(split, idle);
    this.subtasks.broadcast({ type: 'split-idle', split, idle });
  }
}
