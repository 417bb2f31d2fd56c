// Two hot paths measured in isolation, as docs/benchmarks.md quotes them: reading a tape's lines with
// `JsonFieldReader` against `latin1Slice` + `JSON.parse` (and a bare loop over the bytes), and the coordinator's
// ordered stage on fresh event ids. Medians of rounds, ns per line or per id, one thread, each measured in a
// process of its own.
//
//   node dist/bench/hot-paths.js [--data FILE] [--rounds N]

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JsonFieldReader } from '../runtime/formats/json-fields.js';
import { OrderedStage } from '../runtime/exec/ordered-stage.js';
import { CounterRegistry } from '../runtime/exec/metrics.js';
import { dedupeHash } from '../runtime/exec/dedupe-index.js';
import type { DecodeResult } from '../runtime/exec/decode-result.js';
import { StringColumn } from '../runtime/exec/typed-column.js';

const TRADE_FIELDS = ['event_id', 'exchange', 'symbol', 'price', 'quantity', 'quote_volume', 'side', 'timestamp', 'ingestion_timestamp'];
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Buffer, start: number, end: number) => string }).latin1Slice;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** ns per line of `each(start, end)` over every line of `bytes`, median of rounds (the first two warm up). */
function perLine(bytes: Buffer, rounds: number, each: (start: number, end: number) => number): number {
  const times: number[] = [];
  let sink = 0;
  for (let round = 0; round < rounds + 2; round++) {
    let lines = 0;
    const started = process.hrtime.bigint();
    for (let position = 0; position < bytes.length; ) {
      let newline = bytes.indexOf(10, position);
      if (newline < 0) newline = bytes.length;
      if (newline > position) {
        sink += each(position, newline);
        lines++;
      }
      position = newline + 1;
    }
    if (round >= 2) times.push(Number(process.hrtime.bigint() - started) / lines);
  }
  if (sink === -1) console.log(sink); // keeps the work observable
  return median(times);
}

type LineMode = 'parse' | 'read' | 'loop';

/** One way of handling a line, measured alone in its process, so no call site sees the others' closures. */
function lineCost(mode: LineMode, file: string, rounds: number): number {
  const whole = readFileSync(file);
  // At most ~120 MB, cut after a newline so every line is whole.
  const bytes = whole.length <= 120_000_000 ? whole : whole.subarray(0, whole.lastIndexOf(10, 120_000_000) + 1);
  if (mode === 'parse') {
    return perLine(bytes, rounds, (start, end) => {
      try {
        return (JSON.parse(latin1Slice.call(bytes, start, end)) as { price?: number }).price ?? 0;
      } catch {
        return 0;
      }
    });
  }
  if (mode === 'read') {
    const reader = new JsonFieldReader(TRADE_FIELDS, { intern: ['exchange', 'symbol', 'side'] });
    return perLine(bytes, rounds, (start, end) => (reader.readBytes(bytes, start, end) ? ((reader.values[3] as number) ?? 0) : 0));
  }
  let quotes = 0;
  return perLine(bytes, rounds, (start, end) => {
    for (let p = start; p < end; p++) if (bytes[p] === 34) quotes++;
    return quotes;
  });
}

function orderedStage(rounds: number): void {
  const count = 1_000_000;
  const chunk = 5_000;
  const results: DecodeResult[] = [];
  for (let first = 0; first < count; first += chunk) {
    // Every seventh id repeats the one before it: a duplicate within the horizon.
    const ids = Array.from({ length: chunk }, (_, i) => `t7-${(first + i) % 7 === 3 ? first + i - 1 : first + i}`);
    const times = Float64Array.from(ids, (_, i) => 1.7e12 + first + i);
    results.push({
      chunkSeq: 0, recordsIn: chunk, counters: {}, orderedCount: chunk, targets: [],
      dedupeKeys: StringColumn.of(ids), dedupeHashes: Uint32Array.from(ids, dedupeHash), dedupeTimes: times, eventTimes: times,
    });
  }
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const stage = new OrderedStage({ key: () => '', timestamp: () => 0, withinMs: 3_600_000, passedCounter: 'passed', duplicateCounter: 'duplicate' }, new CounterRegistry());
    const cpu = process.cpuUsage();
    for (const result of results) stage.apply(0, result);
    const used = process.cpuUsage(cpu);
    times.push(((used.user + used.system) * 1000) / count);
  }
  console.log(`ordered stage, 1M ids (1 in 7 a duplicate) in chunks of ${chunk}: ${median(times).toFixed(0)} CPU ns per id`);
}

const rounds = Number(option('--rounds', '5'));
const data = option('--data', 'bench/data/all-1000000-s7.jsonl');
const mode = option('--mode', '');
if (mode === 'parse' || mode === 'read' || mode === 'loop') {
  process.stdout.write(`${lineCost(mode, data, rounds)}\n`);
} else if (mode === 'ordered') {
  orderedStage(rounds);
} else {
  const self = fileURLToPath(import.meta.url);
  const run = (one: string) => execFileSync(process.execPath, [self, '--mode', one, '--data', data, '--rounds', String(rounds)], { encoding: 'utf8' }).trim();
  const cost = (one: LineMode) => Number(run(one)).toFixed(0);
  console.log(`${data}: latin1Slice + JSON.parse ${cost('parse')} ns/line, JsonFieldReader ${cost('read')} ns/line, a loop counting quotes ${cost('loop')} ns/line`);
  console.log(run('ordered'));
}
