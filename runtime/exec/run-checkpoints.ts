// When a run's periodic checkpoints are due, and taking one: the coordinator's part (ordered stage, counters,
// split positions) is built at the trigger, and the ordered stage learns which dedupe segments were stored.

import { setTimeout as delay } from 'node:timers/promises';
import type { CheckpointCoordinator, CoordinatorContribution } from '../checkpoint/checkpoint-coordinator.js';
import type { CheckpointMetadata } from '../checkpoint/metadata.js';
import type { CoordinatorCheckpointState } from '../checkpoint/restore.js';
import type { OrderedStage, OrderedStageState } from './ordered-stage.js';

/** The longest delay a Node timer holds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class RunCheckpoints {
  private nextDueAt: number;

  constructor(
    readonly coordinator: CheckpointCoordinator,
    private readonly ordered: OrderedStage,
    started: number,
    private readonly contributionOf: (checkpointId: number) => CoordinatorContribution,
  ) {
    this.nextDueAt = started + coordinator.intervalMs;
  }

  /** Time until the next periodic checkpoint is due; Node fires a longer timer after 1 ms, so at most its bound. */
  msUntilDue(): number {
    return Math.min(MAX_TIMER_MS, Math.max(0, this.nextDueAt - Date.now()));
  }

  /** Starts a periodic checkpoint if one is due and none is in flight; the run goes on meanwhile. */
  triggerIfDue(): void {
    if (this.coordinator.busy || Date.now() < this.nextDueAt) return;
    this.nextDueAt = Date.now() + this.coordinator.intervalMs;
    void this.trigger(false);
  }

  /**
   * The checkpoint that ends a run, once the one in flight (if any) is done: a savepoint when `stopped()`. Sinks
   * commit their last files when they finish. Without a final checkpoint behind them, a kill while finishing would
   * restore an earlier checkpoint that cannot revoke those files, and they would be written twice: so a bounded
   * finish retries it, with backoff up to 1 s, until it completes or the failures exceed the tolerable number (the
   * coordinator then fails the run, which rejects `failed` and so this). A stop ends the retries.
   */
  async takeFinal(stopped: () => boolean, failed: Promise<never>): Promise<CheckpointMetadata | undefined> {
    while (this.coordinator.busy) await Promise.race([delay(10), failed]);
    let metadata = await Promise.race([this.trigger(stopped()), failed]);
    for (let attempt = 1; !metadata && !stopped(); attempt++) {
      await Promise.race([delay(Math.min(1000, 50 * 2 ** attempt)), failed]);
      metadata = await Promise.race([this.trigger(false), failed]);
    }
    return metadata;
  }

  /** Takes a checkpoint now (a savepoint when the run stops); undefined if it failed. */
  async trigger(savepoint: boolean): Promise<CheckpointMetadata | undefined> {
    let taken: OrderedStageState | undefined;
    const metadata = await this.coordinator.trigger((id) => {
      const built = this.contributionOf(id);
      taken = (built.state as CoordinatorCheckpointState).ordered;
      return built;
    }, savepoint);
    if (metadata && taken) this.ordered.confirmSnapshot(taken);
    return metadata;
  }
}
