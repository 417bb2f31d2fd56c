// `coattail generate`: a deterministic synthetic tape for tests, demos and benchmarks.

import { stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CoattailError } from '../errors.js';
import { writeTape } from '../../connectors/sources/market-tape.js';

export interface GenerateFlags {
  readonly events: number;
  readonly seed: number;
  readonly out: string;
  readonly badRate: string;
  readonly rate: number;
  readonly truth?: string;
}

export async function generateCommand(flags: GenerateFlags): Promise<void> {
  const badRate = Number(flags.badRate);
  if (!Number.isFinite(badRate) || badRate < 0 || badRate > 0.5) {
    throw new CoattailError('BAD_ARGUMENT', `--bad-rate must be a number from 0 to 0.5, got "${flags.badRate}"`);
  }
  // Checked before the tape is written: a long tape should not be lost to a mistyped --truth folder.
  if (flags.truth) await refuseMissingFolder(flags.truth);
  const started = Date.now();
  const progress = process.stderr.isTTY ? progressLine(flags.events) : undefined;
  const truth = await writeTape({
    events: flags.events,
    seed: flags.seed,
    badRate,
    eventsPerSecond: flags.rate,
    out: flags.out,
    ...(progress ? { onProgress: progress.update } : {}),
  }).finally(() => progress?.clear());
  if (flags.truth) {
    await writeFile(flags.truth, JSON.stringify(truth, null, 2) + '\n').catch((error: unknown) => {
      throw new CoattailError('BAD_ARGUMENT', `cannot write the ground truth to ${flags.truth}: ${(error as Error).message}`, { cause: error });
    });
  }
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`wrote ${flags.events.toLocaleString('en-US')} records to ${flags.out} in ${seconds.toFixed(1)}s (seed ${flags.seed})\n`);
}

async function refuseMissingFolder(file: string): Promise<void> {
  const folder = dirname(file);
  const isFolder = await stat(folder).then((found) => found.isDirectory(), () => false);
  if (!isFolder) throw new CoattailError('FILE_NOT_FOUND', `cannot write the ground truth to ${file}: ${folder} is not a folder`);
}

/** A progress line on the terminal, redrawn at most four times a second; nothing when stderr is not a terminal. */
function progressLine(total: number): { update: (written: number) => void; clear: () => void } {
  let drawnAt = 0;
  let drawn = false;
  return {
    update: (written) => {
      const now = Date.now();
      if (now - drawnAt < 250) return;
      drawnAt = now;
      drawn = true;
      const percent = Math.floor((written * 100) / Math.max(1, total));
      process.stderr.write(`\rgenerating: ${written.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} records (${percent}%)\x1b[K`);
    },
    clear: () => {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
