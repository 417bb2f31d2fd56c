import { describe, expect, it } from 'vitest';
import { ColumnarCodec } from '../../runtime/transport/columnar-codec.js';
import { createCodec } from '../../runtime/transport/record-codec.js';

/** Encodes and decodes through a copy of the bytes, as a transfer to another thread would deliver them. */
function roundTrip(records: unknown[], codec: Pick<ColumnarCodec, 'encode' | 'decode'> = new ColumnarCodec()): unknown[] {
  const bytes = codec.encode(records);
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return codec.decode(copy);
}

function trade(i: number): Record<string, unknown> {
  return {
    event_id: `binance-${i}`,
    exchange: i % 3 === 0 ? 'coinbase' : 'binance',
    symbol: ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'][i % 3],
    price: 43000.25 + i / 7,
    quantity: 0.015 * (i + 1),
    side: i % 2 === 0 ? 'buy' : 'sell',
    timestamp: 1_700_000_000_000 + i,
    ingestion_timestamp: i % 5 === 0 ? null : 1_700_000_000_100 + i,
  };
}

describe('columnar record codec', () => {
  it('returns a batch of same-shaped trades equal to the input, keys in the same order', () => {
    const records = Array.from({ length: 3000 }, (_, i) => trade(i));
    const decoded = roundTrip(records) as Array<Record<string, unknown>>;
    expect(decoded).toEqual(records);
    expect(decoded.map((record) => Object.keys(record))).toEqual(records.map((record) => Object.keys(record)));
  });

  it('keeps numbers bit-exact: -0, NaN, infinities, subnormals and the largest safe integer', () => {
    const values = [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324, Number.MAX_SAFE_INTEGER, 0.1 + 0.2];
    const decoded = roundTrip(values.map((value) => ({ value }))) as Array<{ value: number }>;
    decoded.forEach((record, i) => expect(Object.is(record.value, values[i])).toBe(true));
  });

  it('carries non-ASCII text, empty strings and repeated values exactly', () => {
    const words = ['', 'naïve', '日本語', '🚀 rocket', 'plain', 'plain', 'plain', 'plain'];
    const records = words.map((word, i) => ({ word, other: words[(i + 3) % words.length] }));
    expect(roundTrip(records)).toEqual(records);
  });

  it('keeps a lone surrogate, which UTF-8 cannot carry', () => {
    const records = [{ id: '\ud800x' }, { id: 'ok' }];
    const decoded = roundTrip(records) as Array<{ id: string }>;
    expect(decoded[0]!.id).toBe('\ud800x');
    expect(decoded).toEqual(records);
  });

  it('keeps mixed-type, null, undefined, boolean and nested values of a column', () => {
    const records = [
      { a: 1, b: 'x', c: null, d: { nested: [1, 'two'] } },
      { a: 'one', b: true, c: undefined, d: [3] },
      { a: null, b: false, c: 2.5, d: null },
    ];
    const decoded = roundTrip(records);
    expect(decoded).toEqual(records);
    expect(Object.keys(decoded[1] as object)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps the order of records of several shapes and of records of no shape', () => {
    const records: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 7 === 0) records.push(`raw line ${i}`);
      else if (i % 5 === 0) records.push({ reason: 'malformed', raw: `{bad ${i}`, offset: i });
      else if (i % 11 === 0) records.push([i, i + 1]);
      else if (i % 13 === 0) records.push(new Date(1_700_000_000_000 + i));
      else records.push(trade(i));
    }
    // Same keys in another order is another shape.
    records.push({ b: 1, a: 2 }, { a: 2, b: 1 });
    expect(roundTrip(records)).toEqual(records);
  });

  it('sends batches of more shapes than it keeps apart, and a __proto__ key, through its fallback intact', () => {
    const manyShapes = Array.from({ length: 40 }, (_, i) => ({ [`field${i}`]: i }));
    expect(roundTrip(manyShapes)).toEqual(manyShapes);
    const withProto = [JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object];
    const decoded = roundTrip(withProto) as Array<Record<string, unknown>>;
    expect(Object.keys(decoded[0]!)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes an empty batch and a batch with a dictionary of more than 65,536 entries', () => {
    expect(roundTrip([])).toEqual([]);
    // Few rows per distinct value keep a column a dictionary only when values repeat: force repeats.
    const records = Array.from({ length: 280_000 }, (_, i) => ({ key: `k${i % 70_000}` }));
    expect(roundTrip(records)).toEqual(records);
  });

  it('decodes a batch that arrives at an unaligned offset', () => {
    const codec = new ColumnarCodec();
    const records = Array.from({ length: 10 }, (_, i) => trade(i));
    const bytes = codec.encode(records);
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    expect(codec.decode(shifted.subarray(3))).toEqual(records);
  });

  it('is what createCodec("columnar") returns, and another codec instance decodes its batches', () => {
    const records = Array.from({ length: 50 }, (_, i) => trade(i));
    const bytes = createCodec('columnar').encode(records);
    expect(createCodec('columnar').decode(bytes)).toEqual(records);
  });

  it('keeps typed arrays, Sets, Maps and Dates in records (a window result crossing a second keyBy may hold them), in every codec', () => {
    const records = [
      { key: 'a', history: new Float64Array([1.5, -2.25, 1e300]), counts: new Int32Array([-3, 7]), raw: new Uint8Array([9, 8]) },
      { key: 'b', seen: new Set(['x', 'y']), byExchange: new Map([['binance', 2]]), at: new Date(1_700_000_000_000) },
      new Float64Array([0.5]),
    ];
    // msgpackr without moreTypes wrote a Float64Array's values into bytes (1.5 -> 1) followed by whatever memory
    // was next, and read it back as a Uint8Array; a Set came back as an Array.
    for (const name of ['columnar', 'msgpack', 'structured-clone'] as const) {
      expect(roundTrip(records, createCodec(name)), name).toEqual(records);
    }
  });
});
