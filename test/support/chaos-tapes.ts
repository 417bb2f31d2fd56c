// Tapes for the kill -9 chaos runner: a generated tape reshaped to stress restored state (duplicates exact and
// altered, very late events, bursts, several days, copies around the dedupe horizon), or split into several files.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { runCliToEnd, seededRandom } from '../e2e/support/cli.js';

export type TapeShape = 'plain' | 'duplicates' | 'late' | 'bursts' | 'days' | 'horizon' | 'files';

export const TAPE_SHAPES: readonly TapeShape[] = ['plain', 'duplicates', 'late', 'bursts', 'days', 'horizon', 'files'];

export interface ChaosTape {
  readonly shape: TapeShape;
  /** `file:` source: a file, or for `files` a folder of several (one split each, one of them gzipped). */
  readonly path: string;
  /** Splits interleave differently on every run of a several-file source: window sums may differ in their last bits. */
  readonly tolerance: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface TapeRecord {
  [field: string]: unknown;
  event_id: string;
  timestamp: number | string;
}

/** A generated line as an object, or undefined for the generator's bad records (kept verbatim). */
function parsed(line: string): TapeRecord | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const record = value as TapeRecord;
    return typeof record.event_id === 'string' && eventTime(record) !== undefined ? record : undefined;
  } catch {
    return undefined;
  }
}

function eventTime(record: TapeRecord): number | undefined {
  const time = typeof record.timestamp === 'number' ? record.timestamp : Date.parse(String(record.timestamp));
  return Number.isFinite(time) ? time : undefined;
}

/** The record at another event time, in the form (epoch ms or ISO) it had. */
function at(record: TapeRecord, time: number): TapeRecord {
  return { ...record, timestamp: typeof record.timestamp === 'number' ? time : new Date(time).toISOString() };
}

/** The same id with other values: a copy that is not the first occurrence must never win over it. */
function altered(record: TapeRecord, random: () => number): TapeRecord {
  const price = typeof record.price === 'number' ? record.price : 1;
  const quantity = typeof record.quantity === 'number' ? record.quantity : 1;
  // Some alterations make a whale out of a small trade: a copy that wrongly passes shows in whale_trades too.
  const factor = random() < 0.3 ? 1e6 / (price * quantity) : 1 + random();
  const { quote_volume: _dropped, ...rest } = record;
  return { ...rest, quantity: Number((quantity * factor).toFixed(8)) || quantity, side: record.side === 'buy' ? 'sell' : 'buy' };
}

type Reshape = (lines: readonly string[], random: () => number) => string[];

/** 3 % of trades come back 1..3000 lines later, half exactly, half with other values. */
const withDuplicates: Reshape = (lines, random) => {
  const later = new Map<number, string[]>();
  lines.forEach((line, index) => {
    const record = parsed(line);
    if (!record || random() >= 0.03) return;
    const copy = random() < 0.5 ? line : JSON.stringify(altered(record, random));
    const target = index + 1 + Math.floor(random() * 3000);
    later.set(target, [...(later.get(target) ?? []), copy]);
  });
  return lines.flatMap((line, index) => [line, ...(later.get(index) ?? [])]);
};

/** 1 % of trades move back in event time: some within the delays, some far behind every window (late_dropped). */
const withLateEvents: Reshape = (lines, random) =>
  lines.map((line) => {
    const record = parsed(line);
    if (!record || random() >= 0.01) return line;
    const back = [10_000, 40_000, 2 * MINUTE, 20 * MINUTE, 3 * HOUR][Math.floor(random() * 5)]!;
    return JSON.stringify(at(record, eventTime(record)! - back));
  });

/** Runs of up to 400 trades with one timestamp, every ~5000 lines, some of them whales. */
const withBursts: Reshape = (lines, random) => {
  const out: string[] = [];
  lines.forEach((line, index) => {
    out.push(line);
    const record = parsed(line);
    if (!record || index % 5000 !== 4999) return;
    const size = 50 + Math.floor(random() * 350);
    for (let k = 0; k < size; k++) {
      const burst = { ...record, event_id: `${record.event_id}-burst-${k}` };
      out.push(JSON.stringify(random() < 0.02 ? altered(burst, () => 0) : burst));
    }
  });
  return out;
};

/**
 * Copies of ids around the dedupe horizon (1 h; forgotten after 2 h of newer event time, docs/decisions.md §4),
 * placed by the newest event time: at 55 min (a duplicate), 65 min (passes) and 2 h 10 min (passes) after the original.
 */
const withHorizonCopies: Reshape = (lines, random) => {
  const records = lines.map(parsed);
  const times = records.map((record) => (record ? eventTime(record)! : undefined));
  const pending: Array<{ due: number; line: string }> = [];
  const out: string[] = [];
  records.forEach((record, index) => {
    const now = times[index];
    if (now !== undefined) {
      for (let k = pending.length - 1; k >= 0; k--) {
        if (pending[k]!.due <= now) {
          out.push(pending[k]!.line);
          pending.splice(k, 1);
        }
      }
    }
    out.push(lines[index]!);
    if (!record || random() >= 0.004) return;
    for (const after of [55 * MINUTE, 65 * MINUTE, 130 * MINUTE]) {
      const copy = random() < 0.5 ? record : altered(record, random);
      pending.push({ due: now! + after, line: JSON.stringify(at(copy, now! + after - random() * 30_000)) });
    }
  });
  return out;
};

/**
 * A tape for the shape in `folder`, from `coattail generate` (seeded). Sizes keep a run at 100 ms checkpoints to
 * a few seconds with a dozen checkpoints on a 2-core machine.
 */
export async function makeChaosTape(folder: string, shape: TapeShape, seed: number, events = 120_000): Promise<ChaosTape> {
  await mkdir(folder, { recursive: true });
  const generated = path.join(folder, `generated-${shape}-${seed}.jsonl`);
  // Event-time pace: `days` spreads the tape over about two and a half days (date partitions), `horizon` over hours.
  const rate = { plain: 1000, duplicates: 200, late: 100, bursts: 200, days: 1, horizon: 10, files: 100 }[shape];
  await runCliToEnd(['generate', '--events', String(events), '--seed', String(seed), '--out', generated, '--rate', String(rate), '--bad-rate', '0.01']);
  if (shape === 'plain' || shape === 'days') return { shape, path: generated, tolerance: 0 };
  const lines = (await readFile(generated, 'utf8')).split('\n').filter((line) => line !== '');
  const random = seededRandom(seed * 7919 + shape.length);
  if (shape === 'files') {
    // One file per symbol group, each spanning the whole tape in order: no record is late or a duplicate because of
    // how the splits interleave (copies of an id share its symbol), so the reference is the same on every run. The
    // ETH file is cut short, so one split ends while the others are still read; the third is gzipped.
    const tapeFolder = path.join(folder, `files-${seed}`);
    await mkdir(tapeFolder, { recursive: true });
    const groups: [string[], string[], string[]] = [[], [], []];
    const newest = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const line of lines) {
      const record = parsed(line);
      const group = record?.symbol === 'ETH-USDT' ? 1 : record?.symbol === 'SOL-USDT' || record?.symbol === 'XRP-USDT' ? 2 : 0;
      // The generator's late and far-future trades are left out: with several splits the window watermark is the
      // minimum over them, so whether a record far behind its own split is late depends on how the splits
      // interleave (docs/testing.md, chaos runner), and no reference could be exact.
      const time = record ? eventTime(record)! : undefined;
      if (time !== undefined && Number.isFinite(newest[group]!) && (time < newest[group]! - 10_000 || time > newest[group]! + 10 * MINUTE)) continue;
      if (time !== undefined) newest[group] = Math.max(newest[group]!, time);
      groups[group].push(line);
    }
    await writeFile(path.join(tapeFolder, 'a-btc.jsonl'), groups[0].join('\n') + '\n');
    await writeFile(path.join(tapeFolder, 'b-eth.jsonl'), groups[1].slice(0, Math.floor(groups[1].length * 0.6)).join('\n') + '\n');
    await writeFile(path.join(tapeFolder, 'c-sol-xrp.jsonl.gz'), gzipSync(groups[2].join('\n') + '\n'));
    return { shape, path: tapeFolder, tolerance: 1e-9 };
  }
  const reshape: Record<Exclude<TapeShape, 'plain' | 'days' | 'files'>, Reshape> = {
    duplicates: withDuplicates,
    late: withLateEvents,
    bursts: withBursts,
    horizon: withHorizonCopies,
  };
  const tape = path.join(folder, `${shape}-${seed}.jsonl`);
  await writeFile(tape, reshape[shape](lines, random).join('\n') + '\n');
  return { shape, path: tape, tolerance: 0 };
}
