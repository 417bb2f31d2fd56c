// Subtask threads started before the job is known: which ones a run takes, and the parallelism guess.
import { once } from 'node:events';
import { availableParallelism } from 'node:os';

import { describe, expect, test } from 'vitest';

import { parallelismHint, prestartSubtaskThreads, releaseWarmThreads, takeSubtaskThread } from '../../runtime/exec/warm-threads.js';

describe('warm subtask threads', () => {
  test('a run takes the prestarted threads in order and ends the ones it does not need', async () => {
    const started = prestartSubtaskThreads(2);
    const taken = takeSubtaskThread();
    expect(taken).toBe(started[0]);
    const leftoverExit = once(started[1]!, 'exit');
    releaseWarmThreads();
    await leftoverExit;
    await taken.terminate();
  });

  test('a prestarted thread that died before the run is replaced by a fresh one', async () => {
    const [dead] = prestartSubtaskThreads(1);
    await dead!.terminate();
    const taken = takeSubtaskThread();
    expect(taken).not.toBe(dead);
    expect(taken.threadId).toBeGreaterThan(dead!.threadId);
    await taken.terminate();
  });

  test('guesses the parallelism from the command line, and the default when it cannot', () => {
    expect(parallelismHint(['jobs/all.ts', '-p', '3'])).toBe(3);
    expect(parallelismHint(['jobs/all.ts', '--parallelism', '4', '-q'])).toBe(4);
    expect(parallelismHint(['jobs/all.ts', '--parallelism=5'])).toBe(5);
    expect(parallelismHint(['jobs/all.ts', '-p6'])).toBe(6);
    expect(parallelismHint(['jobs/all.ts'])).toBe(availableParallelism());
    // Bad values start nothing early; the real parse reports them.
    expect(parallelismHint(['jobs/all.ts', '-p', 'lots'])).toBe(0);
    expect(parallelismHint(['jobs/all.ts', '-p'])).toBe(0);
    expect(parallelismHint(['jobs/all.ts', '-p', '1000'])).toBe(0);
  });
});
