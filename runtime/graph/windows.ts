// Window assigners aligned to the epoch: tumbling `[floor(t/size)*size, +size)` and sliding.

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
