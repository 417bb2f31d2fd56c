// Splits that appear while a live source runs (Kinesis resharding) join the run: the source is asked again
// every `rediscoverMs`, and each split it did not list before is handed on.

import type { Source, SplitDescriptor } from '../api/source.js';
import { describeError } from '../errors.js';

export interface SplitDiscoveryHooks {
  readonly isKnown: (splitId: string) => boolean;
  readonly shouldStop: () => boolean;
  readonly onNewSplit: (split: SplitDescriptor) => void;
  readonly log: (message: string) => void;
}

/** Starts asking the source for new splits; returns the timer to clear, or undefined when the source has none. */
export function watchForNewSplits(source: Source, hooks: SplitDiscoveryHooks): NodeJS.Timeout | undefined {
  if (source.rediscoverMs === undefined || source.bounded) return undefined;
  return setInterval(() => {
    source
      .discoverSplits()
      .then((found) => {
        for (const split of found) {
          if (hooks.shouldStop() || hooks.isKnown(split.splitId)) continue;
          hooks.onNewSplit(split);
        }
      })
      .catch((error) => hooks.log(`split discovery failed, will retry: ${describeError(error)}`));
  }, source.rediscoverMs);
}
