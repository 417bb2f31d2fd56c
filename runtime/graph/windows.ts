// Window assigners: tumbling `[floor(t/size)*size, +size)` and sliding, aligned to the epoch; sessions per key.

import { CoattailError } from '../errors.js';
import { parseDuration, type Duration } from '../time/duration.js';
import type { TimeWindow, WindowAssigner } from './functions.js';

export function tumbling(size: Duration): WindowAssigner {
  const sizeMs = parseDuration(size, 'tumbling window size');
  if (sizeMs <= 0) throw new CoattailError('JOB_INVALID', 'tumbling window size must be > 0');
  return {
    description: `tumbling(${sizeMs}ms)`,
    assign(timestamp: number): TimeWindow[] {
      const start = Math.floor(timestamp / sizeMs) * sizeMs;
      return [{ start, end: start + sizeMs }];
    },
  };
}

export function sliding(size: Duration, slide: Duration): WindowAssigner {
  const sizeMs = parseDuration(size, 'sliding window size');
  const slideMs = parseDuration(slide, 'sliding window slide');
  if (sizeMs <= 0 || slideMs <= 0) throw new CoattailError('JOB_INVALID', 'sliding window size and slide must be > 0');
  return {
    description: `sliding(${sizeMs}ms, ${slideMs}ms)`,
    assign(timestamp: number): TimeWindow[] {
      const windows: TimeWindow[] = [];
      const lastStart = Math.floor(timestamp / slideMs) * slideMs;
      for (let start = lastStart; start > timestamp - sizeMs; start -= slideMs) windows.push({ start, end: start + sizeMs });
      return windows.reverse();
    },
  };
}

/**
 * Event-time session windows, as Flink's `EventTimeSessionWindows.withGap`: each record opens `[t, t + gap)`,
 * and the window operator merges it with the key's open sessions it overlaps or touches. A session fires when
 * the watermark (less the window's delay) reaches its end, i.e. `gap` after its last record.
 */
export function session(gap: Duration): WindowAssigner {
  const gapMs = parseDuration(gap, 'session gap');
  if (gapMs <= 0) throw new CoattailError('JOB_INVALID', 'session gap must be > 0');
  return {
    description: `session(${gapMs}ms)`,
    sessionGapMs: gapMs,
    assign(timestamp: number): TimeWindow[] {
      return [{ start: timestamp, end: timestamp + gapMs }];
    },
  };
}
