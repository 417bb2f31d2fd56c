// The single-threaded reference run over a JSON Lines file: the engine's end-to-end oracle and the bench baseline.
// CLI: node dist/bench/baselines/reference.js <file.jsonl> [--config features.yaml]

import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadFeatures, type Features } from '../../jobs/modules/config.js';
import { CoattailError, describeError } from '../../runtime/errors.js';
import { ReferencePipeline, type ReferenceOptions, type ReferenceResult } from './reference-pipeline.js';

export { ReferencePipeline } from './reference-pipeline.js';
export type { ReferenceOptions, ReferenceResult, ReferenceSummary } from './reference-pipeline.js';

const NEWLINE = 0x0a;

/**
 * Calls `onLine(text, byteOffset)` for every record of a JSON Lines file, in order: lines split on `\n`, decoded as
 * UTF-8 with U+FFFD for invalid bytes, a `\r` before the `\n` kept, empty lines skipped (SPEC §1).
 */
export async function readJsonLines(path: string, onLine: (text: string, offset: number) => void): Promise<void> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let carry: Buffer | undefined; // an unfinished line from the previous chunk
  let carryOffset = 0;
  let chunkOffset = 0;
  try {
    for await (const piece of stream) {
      const chunk = piece as Buffer;
      let start = 0;
      let newline = chunk.indexOf(NEWLINE, start);
      if (carry && newline !== -1) {
        const line = Buffer.concat([carry, chunk.subarray(0, newline)]);
        if (line.length > 0) onLine(line.toString('utf8'), carryOffset);
        carry = undefined;
        start = newline + 1;
        newline = chunk.indexOf(NEWLINE, start);
      }
      while (newline !== -1) {
        if (newline > start) onLine(chunk.toString('utf8', start, newline), chunkOffset + start);
        start = newline + 1;
        newline = chunk.indexOf(NEWLINE, start);
      }
      if (start < chunk.length) {
        if (carry) {
          carry = Buffer.concat([carry, chunk]);
        } else {
          carry = Buffer.from(chunk.subarray(start));
          carryOffset = chunkOffset + start;
        }
      }
      chunkOffset += chunk.length;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CoattailError('FILE_NOT_FOUND', `input file not found: ${path}`);
    throw error;
  }
  if (carry && carry.length > 0) onLine(carry.toString('utf8'), carryOffset);
}

/** Runs SPEC's pipeline over a JSON Lines file; DLQ rows name the source `file:<absolute path>` unless told otherwise. */
export async function runReference(path: string, features: Features, options: ReferenceOptions = {}): Promise<ReferenceResult> {
  const pipeline = new ReferencePipeline(features, options.source ?? `file:${resolve(path)}`, options);
  await readJsonLines(path, (text, offset) => pipeline.process(text, offset));
  return pipeline.finish();
}

/** The same over lines already in memory (a generated tape); a record's offset is its index among the lines. */
export function runReferenceOnLines(lines: Iterable<string>, features: Features, options: ReferenceOptions = {}): ReferenceResult {
  const pipeline = new ReferencePipeline(features, options.source ?? 'lines', options);
  let index = 0;
  for (const line of lines) {
    if (line.length > 0) pipeline.process(line, index);
    index++;
  }
  return pipeline.finish();
}

async function main(argv: readonly string[]): Promise<void> {
  const args = [...argv];
  const configAt = args.indexOf('--config');
  const configPath = configAt === -1 ? undefined : args.splice(configAt, 2)[1];
  if (configAt !== -1 && !configPath) throw new CoattailError('BAD_ARGUMENT', '--config needs a path to a features.yaml');
  const [file, ...rest] = args;
  if (!file || rest.length > 0) throw new CoattailError('BAD_ARGUMENT', 'usage: reference.js <file.jsonl> [--config features.yaml]');
  const features = loadFeatures(configPath);
  const started = process.hrtime.bigint();
  const result = await runReference(file, features);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const eventsPerSecond = Math.round(result.summary.records_in / seconds);
  process.stdout.write(JSON.stringify({ ...result.summary, seconds: Number(seconds.toFixed(3)), events_per_second: eventsPerSecond }, null, 2) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`reference: ${describeError(error)}\n`);
    process.exitCode = 1;
  });
}
