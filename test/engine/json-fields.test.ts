// The JSON field reader must give JSON.parse's values for every line it accepts, and refuse every line
// JSON.parse rejects or that is not an object.
import { describe, expect, it } from 'vitest';

import type { RawRecord } from '../../runtime/api/source.js';
import { forEachRawRecord } from '../../runtime/formats/chunk-records.js';
import { JsonFieldReader } from '../../runtime/formats/json-fields.js';
import { seededRandom } from '../e2e/engine-cli-support.js';

const FIELDS = ['event_id', 'price', 'quantity', 'side', 'timestamp', 'flag'] as const;

function reader(): JsonFieldReader<(typeof FIELDS)[number]> {
  return new JsonFieldReader(FIELDS, { intern: ['side'] });
}

/** What JSON.parse makes of the line for the reader's fields, or undefined where the reader must say no. */
function expected(line: string): unknown[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return FIELDS.map((field) => (value as Record<string, unknown>)[field]);
}

/** Reads one line as the decode stage offers it: the bytes of an ASCII chunk, the line between newlines. */
function readLine(fields: JsonFieldReader<string>, line: string): boolean {
  const bytes = Buffer.from(`x\n${line}\n{}`, 'latin1');
  return fields.readBytes(bytes, 2, 2 + line.length);
}

function checkAgainstJsonParse(fields: JsonFieldReader<string>, line: string): boolean {
  const read = readLine(fields, line);
  const want = expected(line);
  if (want === undefined) {
    expect(read, `accepted what JSON.parse rejects: ${line}`).toBe(false);
    return false;
  }
  if (read) {
    fields.values.forEach((value, index) => expect(Object.is(value, want[index]), `${FIELDS[index]} of ${line}: ${String(value)} vs ${String(want[index])}`).toBe(true));
  }
  return read;
}

const NUMBER_TEXTS = [
  '0', '-0', '1', '-1', '0.5', '-0.0', '10', '100.25', '43040.2805', '0.015351', '0.0000001', '123456789012345',
  '1234567890123456', '12345678901234567890', '0.1234567890123456789', '9007199254740993', '1e3', '1E-7', '-2.5e+10',
  '1e999', '-1e999', '5e-324', '0.30000000000000004', '1.7976931348623157e308', '67006.17', '3500.09', '0.0019262',
  '167.29208668590002', '1738749600000', '00', '01', '-', '1.', '.5', '+1', '1e', '1e+', '0x10', 'NaN', 'Infinity', '1.5.2',
];
const STRING_TEXTS = ['"buy"', '"sell"', '""', '"a b"', '"é"', '"a\\"b"', '"tab\there"', '"\\u0041"', '"2025-02-05T10:00:00.001Z"', '"unterminated'];
const OTHER_TEXTS = ['true', 'false', 'null', 'tru', 'nul', '{}', '[]', '[1,2]', '{"a":1}', 'undefined', ''];

describe('JsonFieldReader', () => {
  it('reads every field of plain trade lines, as JSON.parse does', () => {
    const fields = reader();
    const lines = [
      '{"event_id":"okx-1-0","price":43040.2805,"quantity":0.015351,"side":"sell","timestamp":"2024-01-01T00:00:00.005Z"}',
      '{"event_id":"t7-0","price":66996.94,"quantity":0.0019262,"side":"buy","timestamp":1738749600000,"flag":true}',
      ' { "side" : "buy" , "price" : -0 , "extra" : [1, {"x": 2}] } ',
      '{"price":1,"price":2,"flag":null}\r',
    ];
    const accepted = lines.map((line) => checkAgainstJsonParse(fields, line));
    // The third line holds a nested value: JSON.parse reads it instead.
    expect(accepted).toEqual([true, true, false, true]);
    expect(readLine(fields, lines[3]!)).toBe(true);
    expect(fields.values).toEqual([undefined, 2, undefined, undefined, undefined, null]);
  });

  it('agrees with JSON.parse on thousands of generated lines, valid and broken', () => {
    const fields = reader();
    const next = seededRandom(7); // deterministic: a failure names a line that can be replayed
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
    // Keys that share a prefix with a field, or extend one, must not be taken for it.
    const keys = [...FIELDS, 'other', 'quote_volume', 'a\\"b', 'é', 'pric', 'prices', 'sid', 'sides', 'flag '];
    const space = () => pick(['', '', '', ' ', '\t', '\r', '  ']);
    let accepted = 0;
    let rejected = 0;
    for (let n = 0; n < 20_000; n++) {
      const members: string[] = [];
      const count = Math.floor(next() * 8);
      for (let m = 0; m < count; m++) {
        const value = next() < 0.5 ? pick(NUMBER_TEXTS) : next() < 0.7 ? pick(STRING_TEXTS) : pick(OTHER_TEXTS);
        members.push(`${space()}"${pick(keys)}"${space()}:${space()}${value}${space()}`);
      }
      let line = `${space()}{${members.join(',')}}${space()}`;
      // Now and then a broken frame: a trailing comma, a missing brace, a stray character, a scalar line.
      const damage = next();
      if (damage < 0.03) line = line.replace(/}(\s*)$/, ',}$1');
      else if (damage < 0.06) line = line.replace(/}(\s*)$/, '$1');
      else if (damage < 0.08) line = `${line}x`;
      else if (damage < 0.1) line = pick([...NUMBER_TEXTS, ...STRING_TEXTS, ...OTHER_TEXTS]);
      if (line.length === 0 || line.includes('\n')) continue;
      if (checkAgainstJsonParse(fields, line)) accepted++;
      else rejected++;
    }
    // Both paths are exercised: most plain lines are read in place, the rest left to JSON.parse.
    expect(accepted).toBeGreaterThan(4_000);
    expect(rejected).toBeGreaterThan(4_000);
  });

  it('keeps reading exactly when every line brings keys it has never seen', () => {
    const fields = reader();
    // More distinct keys than the reader remembers, at every position, around the fields it reads.
    for (let n = 0; n < 1_000; n++) {
      const line = `{"k${n}":${n},"price":${n}.5,"x${n}":"v","side":"${n % 2 ? 'buy' : 'sell'}","flag":${n % 3 === 0}}`;
      expect(checkAgainstJsonParse(fields, line)).toBe(true);
    }
  });

  it('never reads past the end of the line it was given', () => {
    const fields = reader();
    // `{"price":1` ends where the next line's `}` begins: not a whole object.
    const bytes = Buffer.from('{"price":1\n}\n', 'latin1');
    expect(fields.readBytes(bytes, 0, 10)).toBe(false);
    // The last line of a chunk without its newline.
    const tail = Buffer.from('{"price":1}', 'latin1');
    expect(fields.readBytes(tail, 0, tail.length)).toBe(true);
    expect(fields.values[1]).toBe(1);
    const open = Buffer.from('{"price":"1', 'latin1');
    expect(fields.readBytes(open, 0, open.length)).toBe(false);
  });

  it('shares one string per interned value and keeps distinct values apart', () => {
    const fields = reader();
    const sides: unknown[] = [];
    for (const side of ['buy', 'sell', 'buy', 'sell', 'b', 'ub', 'buy']) {
      expect(readLine(fields, `{"side":"${side}","event_id":"e-${side}"}`)).toBe(true);
      sides.push(fields.values[3]);
      expect(fields.values[0]).toBe(`e-${side}`);
    }
    expect(sides).toEqual(['buy', 'sell', 'buy', 'sell', 'b', 'ub', 'buy']);
  });

  it('reads a record in place only while the decode stage hands it over', () => {
    const fields = reader();
    const kept: RawRecord[] = [];
    const results: boolean[] = [];
    const chunk = new TextEncoder().encode('{"price":1}\n{"price":2}\n');
    forEachRawRecord({ kind: 'lines', bytes: chunk, firstOffset: 0 }, 'file:/t.jsonl', (record) => {
      results.push(fields.read(record));
      kept.push(record);
    });
    expect(results).toEqual([true, true]);
    // Kept past its turn (the chunk's buffer may hold other lines by then): left to JSON.parse.
    expect(fields.read(kept[0]!)).toBe(false);
    // Text-only records (Kinesis) and non-ASCII chunks have no bytes to read in place.
    const utf8 = new TextEncoder().encode('{"price":3,"side":"é"}\n');
    forEachRawRecord({ kind: 'lines', bytes: utf8, firstOffset: 0 }, 'file:/u.jsonl', (record) => results.push(fields.read(record)));
    forEachRawRecord({ kind: 'records', texts: ['{"price":4}'], offsets: [0] }, 'kinesis:s/0', (record) => results.push(fields.read(record)));
    expect(results.slice(2)).toEqual([false, false]);
  });
});
