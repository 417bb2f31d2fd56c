// The live progress a run reports while it reads: throughput since the last report, the lowest split
// watermark, every counter so far, and checkpoints taken.

export interface RunStatus {
  readonly elapsedMs: number;
  readonly recordsIn: number;
  readonly recordsPerSecond: number;
  /** The lowest split watermark (max event time delivered), or -Infinity before any. */
  readonly watermark: number;
  readonly counters: Record<string, number>;
  readonly checkpoints: { readonly completed: number; readonly failed: number };
}

export type RunProgress = Omit<RunStatus, 'elapsedMs' | 'recordsPerSecond'>;

/**
 * Reports `progress()` every `intervalMs`, with the rate since the previous report; returns the timer to clear.
 * `recordsBefore`: what a restored run's earlier runs read, already in `progress().recordsIn` but not read now.
 */
export function startStatusReports(
  onStatus: (status: RunStatus) => void,
  intervalMs: number,
  started: number,
  recordsBefore: number,
  progress: () => RunProgress,
): NodeJS.Timeout {
  let last = { time: started, records: recordsBefore };
  return setInterval(() => {
    const now = Date.now();
    const current = progress();
    const recordsPerSecond = ((current.recordsIn - last.records) * 1000) / Math.max(1, now - last.time);
    last = { time: now, records: current.recordsIn };
    onStatus({ ...current, elapsedMs: now - started, recordsPerSecond });
  }, intervalMs);
}
