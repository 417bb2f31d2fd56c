// The decode stage: framing lines out of a chunk (SPEC §1) and routing decoded records to subtasks by key.
import { describe, expect, it } from 'vitest';

import { DecodeStage } from '../../runtime/exec/decode-stage.js';
import { forEachRawRecord } from '../../runtime/formats/chunk-records.js';
import { createCodec } from '../../runtime/transport/record-codec.js';
import { buildJob } from '../../runtime/graph/job.js';
import { planJob } from '../../runtime/plan/physical-plan.js';
import { OutputTag, defineJob, subtaskForKey, type RawRecord, type SinkFactory } from '../../runtime/index.js';

function frame(bytes: Uint8Array | string, firstOffset = 0): RawRecord[] {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const records: RawRecord[] = [];
  const count = forEachRawRecord({ kind: 'lines', bytes: data, firstOffset }, 'file:/t.jsonl', (record) => records.push(record));
  expect(count).toBe(records.length);
  return records;
}

describe('line framing', () => {
  it('skips empty lines without counting them, and gives each line its byte offset', () => {
    expect(frame('{"a":1}\n\n\n{"b":2}\n')).toEqual([
      { text: '{"a":1}', source: 'file:/t.jsonl', offset: 0 },
      { text: '{"b":2}', source: 'file:/t.jsonl', offset: 10 },
    ]);
  });

  it('keeps a carriage return before the newline as part of the line', () => {
    expect(frame('a\r\nb\r\n\r\n').map((r) => r.text)).toEqual(['a\r', 'b\r', '\r']);
  });

  it('counts whitespace-only lines as records', () => {
    expect(frame(' \n\t\n  \t \n').map((r) => [r.text, r.offset])).toEqual([
      [' ', 0],
      ['\t', 2],
      ['  \t ', 4],
    ]);
  });

  it('reads a last line without a newline', () => {
    expect(frame('x\nlast').map((r) => [r.text, r.offset])).toEqual([
      ['x', 0],
      ['last', 2],
    ]);
  });

  it('adds the chunk first offset to every line offset', () => {
    expect(frame('a\nbb\n', 1_000_000).map((r) => r.offset)).toEqual([1_000_000, 1_000_002]);
  });

  it('replaces invalid UTF-8 with U+FFFD and keeps offsets in bytes', () => {
    const bytes = Buffer.concat([
      Buffer.from('café\n'), // 6 bytes: é is two
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), // {\xff\xfe}
      Buffer.from('🐋 ok\n'), // 4-byte emoji
      Buffer.from([0xe2, 0x82, 0x0a]), // a truncated 3-byte sequence
      Buffer.from('end'),
    ]);
    expect(frame(new Uint8Array(bytes)).map((r) => [r.text, r.offset])).toEqual([
      ['café', 0],
      ['{\ufffd\ufffd}', 6],
      ['🐋 ok', 11],
      ['\ufffd', 19],
      ['end', 22],
    ]);
  });

  it('passes discrete records through with their own offsets', () => {
    const records: RawRecord[] = [];
    const count = forEachRawRecord({ kind: 'records', texts: ['a', '', ' '], offsets: ['seq-1', 'seq-2', 7] }, 'kinesis:s/0', (r) => records.push(r));
    expect(count).toBe(3);
    expect(records.map((r) => r.offset)).toEqual(['seq-1', 'seq-2', 7]);
  });

  it('returns nothing for an empty chunk', () => {
    expect(frame('')).toEqual([]);
    expect(frame('\n\n')).toEqual([]);
  });
});

describe('decode stage routing', () => {
  interface Row {
    readonly k: string;
    readonly t: number;
  }
  const BAD = new OutputTag<string>('bad');
  const nowhere: SinkFactory<unknown> = {
    name: 'nowhere',
    create: () => ({ write() {}, prepareCommit: async () => null, commit: async () => {}, finish: async () => 0, abort: async () => {} }),
  };
  const job = defineJob('routing', (env) => {
    const parsed = env.source('lines').process<Row>('parse', (raw, ctx, out) => {
      try {
        out.collect(JSON.parse(raw.text));
      } catch {
        ctx.output(BAD, raw.text);
      }
    });
    parsed.getSideOutput(BAD).sinkTo('bad', nowhere);
    parsed
      .withWatermarks('time', { timestamp: (r) => r.t })
      .keyBy('by-k', (r) => r.k)
      .process('keyed', { processElement() {} })
      .sinkTo('out', nowhere);
  });

  it('sends each keyed record to the subtask owning its key, in source order, with its place in the ordered stream', async () => {
    const plan = planJob(buildJob(job, { live: false }).graph);
    const stage = await DecodeStage.create(plan, 3, 128);
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    const lines = keys.map((k, i) => JSON.stringify({ k, t: i })).join('\n') + '\nnot json\n';
    const result = stage.decode({ chunkSeq: 4, origin: 'file:/x', payload: { kind: 'lines', bytes: new TextEncoder().encode(lines), firstOffset: 0 } });
    expect(result.recordsIn).toBe(31);
    expect(result.orderedCount).toBe(30);
    expect([...result.eventTimes!]).toEqual(keys.map((_, i) => i));
    const codec = createCodec();
    const keyedExit = plan.exits.find((e) => e.key)!.index;
    const badExit = plan.exits.find((e) => e.tag === 'bad')!.index;
    let keyed = 0;
    for (const target of result.targets) {
      const records = codec.decode(target.records);
      let previous = -1;
      records.forEach((record, i) => {
        if (typeof record === 'string') {
          expect(record).toBe('not json');
          expect(target.exitMasks[i]).toBe(1 << badExit);
          expect(target.subtask).toBe(4 % 3); // unkeyed records go to the chunk's subtask
          expect(target.orderedIndex[i]).toBe(-31); // after all 30 ordered records
          expect(target.eventTimes[i]).toBeNaN();
          return;
        }
        const row = record as Row;
        keyed++;
        expect(target.subtask).toBe(subtaskForKey(row.k, 3, 128));
        expect(target.exitMasks[i]).toBe(1 << keyedExit);
        expect(target.orderedIndex[i]).toBe(row.t);
        expect(target.eventTimes[i]).toBe(row.t);
        expect(row.t).toBeGreaterThan(previous);
        previous = row.t;
      });
    }
    expect(keyed).toBe(30);
  });

  it('keeps consecutive equal values as separate records, on side outputs and after the ordered stage', async () => {
    const merged = defineJob('equal-values', (env) => {
      const parsed = env.source('lines').process<Row>('parse', (raw, ctx, out) => {
        try {
          out.collect(JSON.parse(raw.text));
        } catch {
          ctx.output(BAD, raw.text); // a string: two equal bad lines are two equal values
        }
      });
      parsed.getSideOutput(BAD).sinkTo('bad', nowhere);
      parsed
        .withWatermarks('time', { timestamp: (r) => r.t })
        .flatMap<string>('twice', (r, out) => {
          out.collect(r.k);
          out.collect(r.k);
        })
        .sinkTo('keys', nowhere);
    });
    const stage = await DecodeStage.create(planJob(buildJob(merged, { live: false }).graph), 1, 128);
    const text = 'junk\njunk\n{"k":"a","t":1}\n';
    const result = stage.decode({ chunkSeq: 0, origin: 'x', payload: { kind: 'lines', bytes: new TextEncoder().encode(text), firstOffset: 0 } });
    const plan = planJob(buildJob(merged, { live: false }).graph);
    const delivered = new Map<number, unknown[]>();
    for (const target of result.targets) {
      createCodec().decode(target.records).forEach((record, i) => {
        for (let exit = 0; exit < plan.exits.length; exit++) {
          if (target.exitMasks[i]! & (1 << exit)) delivered.set(exit, [...(delivered.get(exit) ?? []), record]);
        }
      });
    }
    const exitTo = (step: string) => plan.exits.find((e) => plan.graph.node(e.to).uid === step)!.index;
    expect(delivered.get(exitTo('bad'))).toEqual(['junk', 'junk']);
    expect(delivered.get(exitTo('keys'))).toEqual(['a', 'a']);
  });

  it('names the step in the error when user code throws while decoding', async () => {
    const throwing = defineJob('throws', (env) => {
      env
        .source('lines')
        .map('explode', () => {
          throw new Error('bad input');
        })
        .sinkTo('out', nowhere);
    });
    const stage = await DecodeStage.create(planJob(buildJob(throwing, { live: false }).graph), 1, 128);
    expect(() =>
      stage.decode({ chunkSeq: 0, origin: 'x', payload: { kind: 'records', texts: ['a'], offsets: [0] } }),
    ).toThrow('step "explode" threw: bad input');
  });
});
