/**
 * A hand-written adversarial tape for the spec oracle: every quality rule and boundary of SPEC §1-§4 that
 * a file can exercise, in phases laid out in event time so that each phase's watermark effects are
 * deliberate. Returned as bytes, because some lines hold invalid UTF-8, a BOM or `\r\n`.
 */

const T0 = Date.UTC(2025, 2, 1); // 2025-03-01T00:00:00Z, aligned to every window size
const MIN = 60_000;
const HOUR = 3_600_000;

type Fields = Record<string, unknown>;

/** A valid trade's fields; `over` replaces or adds fields, `omit` removes some. */
function trade(id: string, at: number | string, over: Fields = {}, omit: readonly string[] = []): string {
  const base: Fields = { event_id: id, exchange: 'kraken', symbol: 'QQQ-USDT', price: 10, quantity: 1, side: 'buy', timestamp: at };
  const fields: Fields = { ...base, ...over };
  for (const key of omit) delete fields[key];
  return JSON.stringify(fields);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Byte pieces of the tape; `line` appends `\n`. */
class Tape {
  readonly pieces: Buffer[] = [];
  line(text: string | Buffer): void {
    this.pieces.push(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, Buffer.from('\n'));
  }
  raw(bytes: Buffer | string): void {
    this.pieces.push(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
  }
  /** A malformed filler line so that the next line starts at a multiple of `size` bytes (a read chunk's start). */
  padTo(size: number): void {
    const length = this.pieces.reduce((n, piece) => n + piece.length, 0);
    const fill = size - ((length + 2) % size); // the line is fill + 1 characters and its newline
    this.line('#'.repeat(fill + 1));
  }
  bytes(): Buffer {
    return Buffer.concat(this.pieces);
  }
}

/** Stage 1-3 rules, rule priority and §1 line handling; all within the first minute of T0. */
function qualityPhase(tape: Tape): void {
  const t = (s: number): number => T0 + s * 1000;
  // A BOM is kept (decisions §8): the first line is malformed.
  tape.line(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(trade('bom', t(1)))]));
  // Before 1970 and in year 0000, ahead of every later time (so not late): windows align by floor.
  tape.line(trade('e-year0', '0000-01-01T00:00:00.5+00:00', { exchange: 'binance', symbol: 'EARLY-USDT' }));
  tape.line(trade('e-frac', -0.5, { exchange: 'binance', symbol: 'EARLY-USDT' })); // whole ms: -1
  tape.line(trade('e-frac2', -1000.5, { exchange: 'coinbase', symbol: 'EARLY-USDT' }));
  tape.line(trade('e-iso', '1969-12-31T23:59:59.9999Z', { exchange: 'coinbase', symbol: 'EARLY-USDT', price: 11 }));
  tape.line(trade('q-ok-1', t(1)));
  tape.raw('\n\n'); // empty lines: skipped, not counted
  // A BOM line starting at 1 MiB, where a reader cutting the file into 1 MiB chunks starts decoding afresh.
  tape.padTo(1024 * 1024);
  tape.line(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(trade('bom-chunk', t(1)))]));
  // malformed
  for (const text of ['not json', 'null', '[1,2]', '42', '"a string"', 'true', '{"event_id":"trunc"', '   \t ', "{'event_id': 'x'}"]) tape.line(text);
  tape.raw('\r\n'); // a line holding only "\r": one malformed record
  tape.raw('garbage\r\n');
  tape.line(Buffer.from([0xff, 0xfe, 0x20, 0x62, 0x61, 0x64, 0xc0, 0xaf, 0xe2, 0x82])); // invalid UTF-8, malformed
  tape.line(`{"pad":"${'x'.repeat(10 * 1024 * 1024)}"`); // a 10 MiB line, not closed: malformed
  // incomplete (stage 2 before stage 3)
  tape.line(trade('', t(2), {}, ['event_id']));
  tape.line(trade('', t(2), { event_id: null }));
  tape.line(trade('q-inc-sym', t(2), {}, ['symbol']));
  tape.line(trade('q-inc-price', t(2), { price: null }));
  tape.line(trade('q-inc-qty', t(2), {}, ['quantity']));
  tape.line(trade('q-inc-ts', t(2), { timestamp: null }));
  tape.line(trade('q-inc-ts2', t(2), { price: '10', side: 'BUY' }, ['timestamp'])); // invalid too, but incomplete first
  tape.line('{"event_id":"q-inc-dupkey","exchange":"kraken","symbol":"QQQ-USDT","price":5,"quantity":1,"side":"buy","timestamp":1740787202000,"price":null}');
  // invalid
  const invalid: Fields[] = [
    { event_id: '' },
    { event_id: 5 },
    { price: '10' },
    { price: 0 },
    { quantity: -1 },
    { symbol: 'btc-usdt' },
    { symbol: 'QQQ-USDT\n' },
    { symbol: 'Q-USDT' },
    { symbol: 'ABCDEFGHIJK-USDT' },
    { symbol: 5 },
    { exchange: '' },
    { exchange: 3 },
    { exchange: null },
    { side: 'BUY' },
    { side: null },
    { timestamp: '2025-03-01 00:00:03Z' },
    { timestamp: '2025-03-01T00:03Z' },
    { timestamp: '2025-03-01T00:00:03' },
    { timestamp: '2025-03-01T00:00:03z' },
    { timestamp: '1740787203000' },
    { timestamp: true },
    { timestamp: '2025-02-30T00:00:03Z' },
    { timestamp: '2025-03-01T24:00:03Z' },
    { timestamp: 8.64e15 },
    { timestamp: '0000-01-01T00:30:00+01:00' }, // year -1 in UTC
    { timestamp: '2025-03-01T00:00:60Z' }, // no leap seconds
    { timestamp: '2025-03-01T00:00:03.Z' },
    { timestamp: '2025-03-01t00:00:03Z' },
    { timestamp: '2025-03-01T05:30:03+0530' },
    { timestamp: '2025-03-01T00:00:03+05:60' },
    { timestamp: 1e20 },
    { timestamp: -62_167_219_200_001 }, // 1 ms before year 0000
    { timestamp: 253_402_300_800_000 }, // year 10000
    { ingestion_timestamp: 'bogus' },
    { ingestion_timestamp: t(3) - 300_001 }, // timestamp more than 5 min after ingestion: future clock
    { quote_volume: '10' },
    { quote_volume: 0 },
    { quote_volume: -3 },
  ];
  invalid.forEach((over, i) => tape.line(trade(`q-inv-${i}`, t(3), over)));
  tape.line(trade('q-inv-exch-missing', t(3), {}, ['exchange']));
  tape.line(trade('q-inv-side-missing', t(3), {}, ['side']));
  // Numbers JSON.stringify cannot write.
  tape.line('{"event_id":"q-inv-negzero","exchange":"kraken","symbol":"QQQ-USDT","price":-0,"quantity":1,"side":"buy","timestamp":1740787203000}');
  tape.line('{"event_id":"q-inv-inf","exchange":"kraken","symbol":"QQQ-USDT","price":1e999,"quantity":1,"side":"buy","timestamp":1740787203000}');
  tape.line('{"event_id":"q-inv-qvinf","exchange":"kraken","symbol":"QQQ-USDT","price":1,"quantity":1,"quote_volume":1e999,"side":"buy","timestamp":1740787203000}');
  tape.line('{"event_id":"q-inv-tsinf","exchange":"kraken","symbol":"QQQ-USDT","price":1,"quantity":1,"side":"buy","timestamp":1e999}');
  tape.line('{"event_id":"q-inv-dupkey","exchange":"kraken","symbol":"QQQ-USDT","price":5,"quantity":1,"side":"buy","timestamp":1740787203000,"price":"5"}');
  // passed, with edges
  tape.line('{"event_id":"q-ok-dupkey","exchange":"kraken","symbol":"QQQ-USDT","price":"bad","quantity":1,"side":"sell","timestamp":1740787204000,"price":12}');
  tape.line(trade('q-ok-futclock', t(4), { ingestion_timestamp: t(4) - 300_000 })); // exactly 5 min: still valid
  tape.line(trade('q-ok-late-5m', t(4), { ingestion_timestamp: t(4) + 300_000 })); // exactly 5 min: not flagged
  tape.line(trade('q-ok-late-5m1', t(4), { ingestion_timestamp: iso(t(4) + 300_001) })); // flagged
  tape.line(trade('q-ok-ing-null', t(4), { ingestion_timestamp: null }));
  tape.line(trade('q-ok-qv-null', t(5), { quote_volume: null, price: 3, quantity: 7 }));
  tape.line(trade('q-ok-qv-edge', t(5), { price: 1, quantity: 1000, quote_volume: 1001 })); // exactly 0.1 %: consistent
  tape.line(trade('q-ok-qv-over', t(5), { price: 1, quantity: 1000, quote_volume: 1001.5 })); // inconsistent, still used
  tape.line(trade('q-ok-qv-under', t(5), { price: 1, quantity: 1000, quote_volume: 990 })); // inconsistent
  tape.line(trade('q-ok-iso-offset', '2025-03-01T05:30:06+05:30'));
  tape.line(trade('q-ok-iso-neg-offset', '2025-02-28T23:00:06.5-01:00'));
  tape.line(trade('q-ok-iso-frac', '2025-03-01T00:00:06.123456789Z'));
  tape.line(trade('q-ok-iso-frac1', '2025-03-01T00:00:06.1Z'));
  tape.line(trade('q-ok-iso-minus-zero', '2025-03-01T00:00:07-00:00'));
  tape.line(trade('q-ok-ms', t(7) + 250));
  tape.line(trade('q-ok-ms-frac', t(7) + 250.75)); // decisions §8: numeric times keep whole milliseconds
  // ... rounded down, as an ISO fraction's extra digits are: -1.5 is -2 (1969-12-31T23:59:59.998Z), not -1 as
  // `new Date(-1.5)` would truncate. A late whale, so that its whale_trades row shows the millisecond kept.
  tape.line(trade('q-ok-ms-negfrac', -1.5, { exchange: 'binance', symbol: 'OLD-USDT', quantity: 20_000 }));
  tape.line(trade('q-ok-crlf', t(8)) + '\r');
  tape.line(Buffer.concat([Buffer.from('{"event_id":"q-ok-u'), Buffer.from([0xff]), Buffer.from(trade('x', t(8)).slice('{"event_id":"x'.length))]));
  tape.line(trade('q-ok-é-unicode', t(8)));
  tape.line(trade('q-ok-big', t(9), { pad: 'y'.repeat(1_500_000) }));
  tape.line(trade('q-ok-year0', '0000-01-01T00:00:00Z', { exchange: 'binance', symbol: 'OLD-USDT' })); // passes, late everywhere
  tape.line(trade('q-ok-small', t(10), { price: 1e-8, quantity: 1e-8 }));
  tape.line(trade('q-ok-ms-year0', -62_167_219_200_000)); // the first millisecond of year 0000: valid (and late)
  tape.line(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(trade('bom-mid', t(10)))])); // a BOM inside the file: malformed too
  // a record with an id that failed stage 3 before: the failed one never passed, so this one is kept
  tape.line(trade('q-inv-0-again', t(10), { event_id: 'q-inv-side-missing' }));
}

/** Stage 4 within the hour: exact copies, altered copies, and a copy with an earlier event time. */
function dedupPhase(tape: Tape): void {
  const t = (s: number): number => T0 + 30_000 + s * 1000;
  tape.line(trade('d-1', t(1)));
  tape.line(trade('d-1', t(2)));
  tape.line(trade('d-1', t(3), { price: 99, exchange: 'binance' }));
  tape.line(trade('d-earlier', t(10)));
  tape.line(trade('d-earlier', t(5)));
  tape.line(trade('d-1', t(4), { ingestion_timestamp: t(4) + 3_600_000, quote_volume: 5 })); // neither late_flagged nor inconsistent
}

/** Whale thresholds exactly at and just above each bound, given and computed quote volumes. */
function whalePhase(tape: Tape): void {
  const t = (s: number): number => T0 + 2 * MIN + s * 1000;
  const volumes = [100_000, 100_000.01, 500_000, 500_000.5, 1_000_000, 1_000_001];
  volumes.forEach((qv, i) => tape.line(trade(`w-${i}`, t(i), { symbol: 'WHL-USDT', price: 1, quantity: qv, quote_volume: qv, side: i % 2 === 0 ? 'buy' : 'sell' })));
  tape.line(trade('w-computed-eq', t(7), { symbol: 'WHL-USDT', price: 100_000, quantity: 1 }));
  tape.line(trade('w-computed', t(7), { symbol: 'WHL-USDT', price: 1000, quantity: 100.001 }));
  // Two different whales whose fields joined with U+001F read the same: distinct alerts need distinct ids (§5).
  tape.line(trade('w-c', t(9), { symbol: 'WHL-USDT', exchange: 'x\u001fw-b', price: 1, quantity: 200_000 }));
  tape.line(trade('w-b\u001fw-c', t(9), { symbol: 'WHL-USDT', exchange: 'x', price: 1, quantity: 200_000 }));
  tape.line(trade('w-given-small', t(8), { symbol: 'WHL-USDT', price: 1000, quantity: 200, quote_volume: 99_999 })); // the given one counts
}

/** §3 lateness boundaries against the watermark before each record, for both delays. */
function latenessPhase(tape: Tape): void {
  const W0 = T0 + 10 * MIN;
  const at = (ms: number, id: string, exchange = 'binance'): void => tape.line(trade(id, W0 + ms, { exchange, symbol: 'LAT-USDT', price: exchange === 'binance' ? 50 : 49 }));
  at(100_000, 'l-1');
  // Records failing stages 1-4 never advance a watermark (§2), whatever their event time.
  tape.line(trade('l-invalid-future', W0 + 10 * HOUR, { side: 'hold' }));
  tape.line(trade('l-incomplete-future', W0 + 10 * HOUR, {}, ['quantity']));
  tape.line(trade('l-1', W0 + 100_000 + HOUR, { exchange: 'binance', symbol: 'LAT-USDT' })); // a duplicate an hour ahead
  at(75_000, 'l-still-on-time'); // 25 s behind the max: late only if a failed record moved the watermark
  at(70_000, 'l-at-delay'); // exactly `delay` behind the max: never late
  at(150_000, 'l-2', 'coinbase'); // volume watermark W0+120 s, spread W0+135 s
  at(119_999, 'l-vol-edge'); // volume window ends at W0+120 s = watermark: late for both
  at(120_000, 'l-window-start'); // a window start: not late for volume, nor for spread (ends W0+150 s)
  at(165_000, 'l-3', 'coinbase'); // spread watermark W0+150 s
  at(149_999, 'l-spread-edge'); // spread window ends at W0+150 s: late for spread, not for volume (ends W0+180 s)
  at(149_999, 'l-spread-edge-kraken', 'kraken'); // not of the pair, but in the symbol's spread window: late for spread too
  at(165_000 - 30_000 - 60_000 - 1, 'l-far'); // more than delay + 60 s behind: always late
  at(165_000 - 30_000, 'l-vol-delay', 'coinbase'); // exactly the volume delay behind
  tape.line(trade('l-whale', W0 + 1000, { exchange: 'binance', symbol: 'LAT-USDT', price: 50, quantity: 5000 })); // late, still a whale
}

/** One trade per window given by minute offsets and volumes, for a key of its own on kraken. */
function zKey(symbol: string, minutes: readonly number[], volumes: readonly number[]): Array<{ at: number; line: string }> {
  const Z0 = T0 + 20 * MIN;
  return minutes.map((minute, i) => {
    const at = Z0 + minute * MIN + 1000 + i;
    const volume = volumes[i] as number;
    return { at, line: trade(`z-${symbol}-${i}`, at, { symbol, price: 1, quantity: volume, quote_volume: volume }) };
  });
}

/** z-score edges: history size, stddev 0, the 3600 s boundary, gaps, exact thresholds, negative z. */
function zScorePhase(tape: Tape): void {
  const range = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);
  const alternating = (n: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 90 : 110));
  const keys = [
    zKey('ZGAP-USDT', range(0, 22, 2), [...alternating(10), 100, 1000]), // gaps of empty windows; 11 history values
    zKey('ZFEW-USDT', range(0, 9), [...alternating(9), 1000]), // 9 history values: no score
    zKey('ZEQ-USDT', range(0, 10), [...Array(10).fill(0.1), 5]), // all equal: no score
    zKey('ZH-USDT', [0, ...range(51, 60)], [...alternating(10), 1000]), // minute 0 is exactly 3600 s back: in
    zKey('ZOUT-USDT', [0, 1, ...range(52, 59), 61], [...alternating(10), 1000]), // minute 0 is 3660 s back: out
    zKey('Z25-USDT', range(0, 10), [...alternating(10), 125]), // z = 2.5 exactly: no alert
    zKey('Z35-USDT', range(0, 10), [...alternating(10), 135]), // z = 3.5 exactly: medium
    zKey('Z30-USDT', range(0, 10), [...alternating(10), 130]), // z = 3: medium
    zKey('ZNEG-USDT', range(0, 10), [...alternating(10), 1]), // negative z: high
    zKey('ZMULTI-USDT', range(0, 14), [...alternating(10), 200, 95, 105, 400, 100]), // spikes feed later history
  ];
  for (const { line } of keys.flat().sort((a, b) => a.at - b.at)) tape.line(line);
}

/** Spread: one exchange missing, thresholds exactly at 0.5 / 1.0, negative spreads, VWAP over trades. */
function spreadPhase(tape: Tape): void {
  const S0 = T0 + 90 * MIN;
  const windows: Array<{ a: Array<[number, number]>; b: Array<[number, number]>; other?: boolean }> = [
    { a: [[100, 1]], b: [] }, // coinbase missing: no row
    { a: [], b: [[100, 1]] }, // binance missing: no row
    { a: [[100.5, 1]], b: [[100, 2]] }, // exactly 0.5: row, no alert
    { a: [[100.6, 1]], b: [[100, 1]] }, // medium
    { a: [[101, 1]], b: [[100, 1]] }, // exactly 1.0: medium
    { a: [[101.5, 1]], b: [[100, 1]] }, // high
    { a: [[98.5, 1]], b: [[100, 1]] }, // -1.5: high
    { a: [[99.4, 1]], b: [[100, 1]] }, // -0.6: medium
    { a: [[100, 1], [102, 3]], b: [[100, 2], [101, 2]], other: true }, // VWAPs over several trades; kraken ignored
  ];
  windows.forEach((w, i) => {
    const base = S0 + i * 30_000 + 1000;
    const emit = (exchange: string, [price, quantity]: [number, number], j: number): void =>
      tape.line(trade(`s-${i}-${exchange}-${j}`, base + j, { symbol: 'SPR-USDT', exchange, price, quantity }));
    w.a.forEach((p, j) => emit('binance', p, j));
    w.b.forEach((p, j) => emit('coinbase', p, j + 10));
    if (w.other === true) emit('kraken', [500, 1], 20);
  });
}

/** Stage 4 across the hour and the two-hour memory (decisions §4). */
function horizonPhase(tape: Tape): void {
  const D0 = T0 + 100 * MIN;
  tape.line(trade('h-exact', D0));
  tape.line(trade('h-over', D0, { quantity: 20_000 })); // a whale each time it passes: two alerts, two ids
  tape.line(trade('h-forget', D0));
  tape.line(trade('h-keep', D0 + 20 * MIN));
  tape.line(trade('h-exact', D0 + HOUR)); // exactly an hour later: duplicate
  tape.line(trade('h-over', D0 + HOUR + 1, { quantity: 20_000 })); // an hour and 1 ms later: passes again
  tape.line(trade('h-advance', D0 + 2 * HOUR + 1, { exchange: 'binance' })); // newest is now > 2 h past h-forget
  tape.line(trade('h-forget', D0 + 30 * MIN, { exchange: 'binance' })); // forgotten: passes (and is late)
  tape.line(trade('h-keep', D0 + 25 * MIN)); // still remembered: duplicate
  tape.line(trade('h-over', D0 + 2 * HOUR + 1, { quantity: 30_000 })); // exactly an hour after its second pass: duplicate
}

/** The adversarial tape, as bytes; ends with a valid record in the last millisecond of year 9999 and no newline. */
export function adversarialTape(): Buffer {
  const tape = new Tape();
  qualityPhase(tape);
  dedupPhase(tape);
  whalePhase(tape);
  latenessPhase(tape);
  zScorePhase(tape);
  spreadPhase(tape);
  horizonPhase(tape);
  tape.line(trade('end-9999', '9999-12-31T23:59:59.999Z', { symbol: 'END-USDT' }));
  tape.raw(trade('end-no-newline', T0, { symbol: 'END-USDT', exchange: 'coinbase' })); // late, last line without \n
  return tape.bytes();
}
