import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runReference, runReferenceOnLines, type ReferenceResult } from '../../bench/baselines/reference.js';
import { BAD_RECORD_KINDS } from '../../connectors/sources/bad-records.js';
import { DEFAULT_TAPE_START_MS, generateTape, writeTape, type TapeOptions, type TapeTruth } from '../../connectors/sources/market-tape.js';
import { defaultFeatures } from '../../jobs/modules/config.js';

const directory = mkdtempSync(join(tmpdir(), 'coattail-tape-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const features = defaultFeatures();

function digest(lines: Iterable<string>, limit: number): string {
  const hash = createHash('sha256');
  let count = 0;
  for (const line of lines) {
    hash.update(line + '\n');
    if (++count === limit) break;
  }
  return hash.digest('hex');
}

/** What the truth says the alerts must be, and what the reference found, as comparable strings. */
function expectedAlerts(truth: TapeTruth): string[] {
  return [
    ...truth.whales.map((whale) => `whale ${whale.event_id} ${whale.severity}`),
    ...truth.bursts.map((burst) => `volume_spike ${burst.symbol} ${burst.exchange} ${burst.window_start} ${burst.severity}`),
    ...truth.divergences.map((divergence) => `spread ${divergence.symbol} ${divergence.window_start} ${divergence.severity}`),
  ].sort();
}

function foundAlerts(result: ReferenceResult): string[] {
  return result.tables.anomaly_alerts
    .map((alert) => {
      const details = JSON.parse(alert.details as string) as Record<string, string>;
      if (alert.alert_type === 'whale') return `whale ${details.event_id} ${alert.severity}`;
      const windowStart = Date.parse(details.window_start!);
      if (alert.alert_type === 'volume_spike') return `volume_spike ${alert.symbol} ${alert.exchange} ${windowStart} ${alert.severity}`;
      return `spread ${alert.symbol} ${windowStart} ${alert.severity}`;
    })
    .sort();
}

function checkAgainstTruth(options: TapeOptions): { truth: TapeTruth; result: ReferenceResult } {
  const { lines, truth } = generateTape(options);
  const result = runReferenceOnLines(lines, features, { now: () => 0 });
  expect(truth.complete).toBe(true);
  expect(foundAlerts(result)).toEqual(expectedAlerts(truth));
  const { summary } = result;
  expect(summary).toMatchObject({
    records_in: truth.records,
    malformed: truth.rejected.malformed,
    incomplete: truth.rejected.incomplete,
    invalid: truth.rejected.invalid,
    duplicate: truth.duplicates.exact + truth.duplicates.altered,
    late_flagged: truth.lateFlagged,
    inconsistent: truth.inconsistent,
    late_dropped: { volume: truth.veryLate, spread: truth.veryLate },
  });
  expect(summary.passed + summary.malformed + summary.incomplete + summary.invalid + summary.duplicate).toBe(summary.records_in);
  expect(result.late.volume.sort()).toEqual([...truth.veryLateEventIds].sort());
  expect(result.tables.whale_trades.map((row) => row.event_id).sort()).toEqual(truth.whales.map((whale) => whale.event_id).sort());
  return { truth, result };
}

describe('market tape', () => {
  it('produces the same lines for the same seed and different lines for another', () => {
    const options = { events: 20_000, seed: 11, eventsPerSecond: 100, badRate: 0.01 };
    expect(digest(generateTape(options).lines, 20_000)).toBe(digest(generateTape(options).lines, 20_000));
    expect(digest(generateTape({ ...options, seed: 12 }).lines, 20_000)).not.toBe(digest(generateTape(options).lines, 20_000));
  });

  it('fills its truth while lines are produced and marks it complete at the end', () => {
    const { lines, truth } = generateTape({ events: 5_000, seed: 3, eventsPerSecond: 100, badRate: 0.05 });
    expect(truth.complete).toBe(false);
    let count = 0;
    for (const text of lines) {
      expect(text.length).toBeGreaterThan(0);
      count++;
    }
    expect([truth.complete, truth.records, count]).toEqual([true, 5_000, 5_000]);
    // A second pass over the lines (a restore) repeats the tape without counting into the truth again.
    expect(digest(lines, 5_000)).toBe(digest(generateTape({ events: 5_000, seed: 3, eventsPerSecond: 100, badRate: 0.05 }).lines, 5_000));
    expect(truth.records).toBe(5_000);
  });

  it('yields every injected anomaly, and nothing else, through the reference pipeline', () => {
    const { truth } = checkAgainstTruth({ events: 160_000, seed: 1, eventsPerSecond: 100, badRate: 0.01 });
    // The tape is long enough to hold each kind of injection at least once.
    expect(new Set(truth.bursts.map((burst) => burst.severity))).toEqual(new Set(['high', 'medium']));
    expect(new Set(truth.divergences.map((divergence) => divergence.severity))).toEqual(new Set(['high', 'medium']));
    expect(new Set(truth.whales.map((whale) => whale.severity))).toEqual(new Set(['medium', 'high', 'critical']));
    expect(truth.whales.some((whale) => whale.late)).toBe(true);
    expect(Object.keys(truth.bad).sort()).toEqual(BAD_RECORD_KINDS.map((kind) => kind.kind).sort());
    for (const count of [truth.duplicates.exact, truth.duplicates.altered, truth.outOfOrder, truth.veryLate, truth.lateFlagged, truth.inconsistent, truth.crlf]) {
      expect(count).toBeGreaterThan(0);
    }
  });

  it('keeps that promise at another pace, with other symbols and an unaligned start', () => {
    const { truth } = checkAgainstTruth({
      events: 300_000, seed: 2, eventsPerSecond: 150, badRate: 0.003, startMs: DEFAULT_TAPE_START_MS + 17_345, symbols: ['BTC-USDT', 'DOGE-USDT', 'ETH-BTC'],
    });
    expect(truth.bursts.length).toBeGreaterThanOrEqual(2);
    expect(truth.divergences.length).toBeGreaterThanOrEqual(4);
  });

  it('keeps it on slow tapes with many bad records, down to about 20 valid records per second', () => {
    // Seed 110 at 60/s with 30 % bad records once put a critical whale on top of a high window: a volume spike the
    // truth did not hold. Whales now go only into the low half of the volume pattern.
    checkAgainstTruth({ events: 165_000, seed: 110, eventsPerSecond: 60, badRate: 0.3 });
    checkAgainstTruth({ events: 90_000, seed: 206, eventsPerSecond: 40, badRate: 0.5 });
    checkAgainstTruth({ events: 90_000, seed: 209, eventsPerSecond: 30, badRate: 0.3 });
  });

  it('writes a JSON Lines file with blank lines that the reference reads like the generated lines', async () => {
    const options = { events: 30_000, seed: 5, eventsPerSecond: 100, badRate: 0.01 };
    const out = join(directory, 'tape.jsonl');
    const truth = await writeTape({ ...options, out });
    const text = readFileSync(out, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines.filter((line) => line === '')).toHaveLength(truth.emptyLines);
    expect(truth.emptyLines).toBeGreaterThan(0);
    expect(lines.length - truth.emptyLines).toBe(truth.records);

    const fromFile = await runReference(out, features, { now: () => 0, source: 'lines' });
    const fromLines = runReferenceOnLines(generateTape(options).lines, features, { now: () => 0 });
    expect(fromFile.summary).toEqual(fromLines.summary);
    const withoutOffsets = (result: ReferenceResult) => ({ ...result.tables, dlq: result.tables.dlq.map(({ offset: _offset, ...row }) => row) });
    expect(withoutOffsets(fromFile)).toEqual(withoutOffsets(fromLines));
  });

  it('gzips the tape when the output name ends in .gz, with the same lines as the plain file', async () => {
    const options = { events: 5_000, seed: 9 };
    const plain = join(directory, 'same.jsonl');
    const gzipped = join(directory, 'same.jsonl.gz');
    await writeTape({ ...options, out: plain });
    await writeTape({ ...options, out: gzipped });
    const bytes = readFileSync(gzipped);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(bytes).equals(readFileSync(plain))).toBe(true);
  });

  it('reports progress after each block it writes, with the records written so far', async () => {
    const out = join(directory, 'progress.jsonl');
    const reported: number[] = [];
    await writeTape({ events: 20_000, seed: 4, out, onProgress: (written) => reported.push(written) });
    const lines = readFileSync(out, 'utf8').split('\n').filter((line) => line.length > 0);
    // ~230-byte lines in 1 MiB blocks: several reports, rising, each a whole number of lines written.
    expect(reported.length).toBeGreaterThanOrEqual(3);
    expect(reported).toEqual([...reported].sort((a, b) => a - b));
    expect(new Set(reported).size).toBe(reported.length);
    expect(reported.at(-1)!).toBeLessThan(lines.length);
    expect(lines.length).toBe(20_000);
  });

  it('fails with a clear error when a .gz tape cannot be written', async () => {
    await expect(writeTape({ events: 10, seed: 1, out: join(directory, 'no-such-dir', 'tape.jsonl.gz') })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringContaining('cannot write the tape to'),
    });
  });

  it('fails with a clear error when the tape cannot be written', async () => {
    await expect(writeTape({ events: 10, seed: 1, out: join(directory, 'no-such-dir', 'tape.jsonl') })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringContaining('cannot write the tape to'),
    });
  });
});
