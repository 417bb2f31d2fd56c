// The Kinesis source against kinesalite: bounded reads, restore, resharding, start positions, raw payloads.
import { describe, expect, it } from 'vitest';
import { kinesisSource, kinesisSourceFromUri, parseKinesisUri, type KinesisSplit } from '../../connectors/sources/kinesis.js';
import type { SourceChunk, SplitReader } from '../../runtime/api/source.js';
import {
  drainBounded,
  HIGHEST_HASH_KEY,
  LOWEST_HASH_KEY,
  putRecords,
  splitShard,
  useLocalKinesis,
} from '../support/kinesis-streams.js';

const kinesis = useLocalKinesis('test-stream');

/** Reads a live reader until `count` records have arrived (empty heartbeat chunks are skipped). */
async function readRecords(reader: SplitReader, count: number): Promise<{ texts: string[]; chunks: SourceChunk[] }> {
  const texts: string[] = [];
  const chunks: SourceChunk[] = [];
  while (texts.length < count) {
    const chunk = await reader.next();
    if (chunk === undefined) throw new Error(`the split ended after ${texts.length} of ${count} records`);
    if (chunk.payload.kind === 'records' && chunk.payload.texts.length > 0) {
      texts.push(...chunk.payload.texts);
      chunks.push(chunk);
    }
  }
  return { texts, chunks };
}

describe('kinesis source', () => {
  it('reads every record of a multi-shard stream once, in shard order, with sequence numbers as offsets', async () => {
    const stream = await kinesis.newStream(3);
    const records = Array.from({ length: 300 }, (_, index) => ({ text: JSON.stringify({ event_id: `e${index}` }) }));
    const put = await putRecords(kinesis.client, stream, records);

    const source = kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint });
    expect(source.uri).toBe(`kinesis:${stream}`);
    expect(source.bounded).toBe(true);
    expect(source.rediscoverMs).toBeUndefined();
    const drained = await drainBounded(source);

    const shardIds = [...new Set(put.map((result) => result.shardId))].sort();
    expect(shardIds.length).toBeGreaterThan(1);
    expect([...drained.splits.keys()].sort()).toEqual(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']);
    for (const [shardId, split] of drained.splits) {
      const expected = put.filter((result) => result.shardId === shardId);
      expect(split.origin).toBe(`kinesis:${stream}/${shardId}`);
      expect(split.texts).toEqual(expected.map((result) => result.text));
      expect(split.offsets).toEqual(expected.map((result) => result.sequenceNumber));
      if (expected.length > 0) expect(split.endPosition).toBe(expected[expected.length - 1]?.sequenceNumber);
    }
    const all = [...drained.splits.values()].flatMap((split) => split.texts);
    expect(all.sort()).toEqual(records.map((record) => record.text).sort());
  });

  it('resumes after a saved sequence number and reads only what follows it', async () => {
    const stream = await kinesis.newStream(1);
    const first = await putRecords(kinesis.client, stream, ['a', 'b', 'c', 'd'].map((text) => ({ text })));
    const saved = new Map([['shardId-000000000000', first[1]?.sequenceNumber ?? null]]);
    const source = kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint });
    const resumed = await drainBounded(source, saved);
    expect(resumed.splits.get('shardId-000000000000')?.texts).toEqual(['c', 'd']);

    await putRecords(kinesis.client, stream, ['e', 'f'].map((text) => ({ text })));
    const end = resumed.splits.get('shardId-000000000000')?.endPosition;
    expect(end).toBe(first[3]?.sequenceNumber);
    const again = await drainBounded(kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint }), new Map([['shardId-000000000000', end ?? null]]));
    expect(again.splits.get('shardId-000000000000')?.texts).toEqual(['e', 'f']);
  });

  it('rejects a saved position that is not a sequence number', async () => {
    const stream = await kinesis.newStream(1);
    const source = kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint });
    const [split] = await source.discoverSplits();
    await expect(source.openSplit(split!, 1234)).rejects.toMatchObject({ code: 'RESTORE_MISMATCH' });
  });

  it('reads a split shard before its children, each child after its parent has ended', async () => {
    const stream = await kinesis.newStream(1);
    const before = await putRecords(kinesis.client, stream, ['p1', 'p2', 'p3'].map((text) => ({ text })));
    await splitShard(kinesis.client, stream, 'shardId-000000000000');
    const after = await putRecords(kinesis.client, stream, [
      { text: 'low1', explicitHashKey: LOWEST_HASH_KEY },
      { text: 'high1', explicitHashKey: HIGHEST_HASH_KEY },
      { text: 'low2', explicitHashKey: LOWEST_HASH_KEY },
    ]);
    const source = kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint });
    const drained = await drainBounded(source);

    const parent = 'shardId-000000000000';
    const children = [...drained.splits.keys()].filter((id) => id !== parent).sort();
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(source.parentsOf?.({ splitId: child, origin: `kinesis:${stream}/${child}` })).toEqual([parent]);
      expect(drained.openOrder.indexOf(child)).toBeGreaterThan(drained.openOrder.indexOf(parent));
    }
    expect(drained.splits.get(parent)?.texts).toEqual(before.map((result) => result.text));
    for (const child of children) {
      expect(drained.splits.get(child)?.texts).toEqual(after.filter((result) => result.shardId === child).map((result) => result.text));
    }
  });

  it('ends a closed parent while live and reads children born during the run from their first record', async () => {
    const stream = await kinesis.newStream(1);
    const source = kinesisSource({ stream, start: 'LATEST', endpoint: kinesis.endpoint, rediscoverMs: 50, pollMs: 200 });
    expect(source.bounded).toBe(false);
    expect(source.rediscoverMs).toBe(50);
    await putRecords(kinesis.client, stream, [{ text: 'before-start' }]);
    const [parentSplit] = await source.discoverSplits();
    const parent = await source.openSplit(parentSplit!, undefined);
    expect((await parent.next())?.payload).toEqual({ kind: 'records', texts: [], offsets: [] });

    await putRecords(kinesis.client, stream, [{ text: 'live-1' }, { text: 'live-2' }]);
    expect((await readRecords(parent, 2)).texts).toEqual(['live-1', 'live-2']);
    await splitShard(kinesis.client, stream, 'shardId-000000000000');
    await putRecords(kinesis.client, stream, [{ text: 'child-low', explicitHashKey: LOWEST_HASH_KEY }]);
    for (let chunk = await parent.next(); chunk !== undefined; chunk = await parent.next()) {
      expect(chunk.payload).toMatchObject({ texts: [] });
    }
    await parent.close();

    const splits = (await source.discoverSplits()) as KinesisSplit[];
    const children = splits.filter((split) => split.splitId !== 'shardId-000000000000');
    expect(children.map((split) => split.bornDuringRun)).toEqual([true, true]);
    expect(children.map((split) => source.parentsOf?.(split))).toEqual([['shardId-000000000000'], ['shardId-000000000000']]);
    const lowChild = await source.openSplit(children[0]!, undefined);
    expect((await readRecords(lowChild, 1)).texts).toEqual(['child-low']);
    await lowChild.close();
  });

  it('starts at LATEST and skips what the stream held before', async () => {
    const stream = await kinesis.newStream(1);
    await putRecords(kinesis.client, stream, [{ text: 'old-1' }, { text: 'old-2' }]);
    const source = kinesisSourceFromUri(`kinesis:${stream}?start=LATEST`, { endpoint: kinesis.endpoint, pollMs: 200 });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, undefined);
    expect((await reader.next())?.payload).toMatchObject({ texts: [] });
    await putRecords(kinesis.client, stream, [{ text: 'new-1' }]);
    const { texts, chunks } = await readRecords(reader, 1);
    expect(texts).toEqual(['new-1']);
    expect(chunks[0]?.endPosition).toBe(chunks[0]?.payload.kind === 'records' ? chunks[0].payload.offsets[0] : 'none');
    await reader.close();
    expect(await reader.next()).toBeUndefined();
  });

  it('starts at a timestamp and reads only records that arrived from then on', async () => {
    const stream = await kinesis.newStream(1);
    await putRecords(kinesis.client, stream, [{ text: 'early-1' }, { text: 'early-2' }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const timestamp = new Date();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await putRecords(kinesis.client, stream, [{ text: 'late-1' }, { text: 'late-2' }]);
    const drained = await drainBounded(kinesisSource({ stream, start: { timestamp }, bounded: true, endpoint: kinesis.endpoint }));
    expect(drained.splits.get('shardId-000000000000')?.texts).toEqual(['late-1', 'late-2']);
  });

  it('hands non-JSON payloads on verbatim as records, decoding invalid UTF-8 as U+FFFD', async () => {
    const stream = await kinesis.newStream(1);
    const payloads = ['not json {', '{"event_id":"ok"}', '\uFEFF{"bom":true}', '  ', new Uint8Array([0x61, 0xff, 0x62])];
    const put = await putRecords(kinesis.client, stream, payloads.map((text) => ({ text })));
    const drained = await drainBounded(kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint }));
    const split = drained.splits.get('shardId-000000000000');
    expect(split?.texts).toEqual(['not json {', '{"event_id":"ok"}', '\uFEFF{"bom":true}', '  ', 'a\uFFFDb']);
    expect(split?.offsets).toEqual(put.map((result) => result.sequenceNumber));
  });

  it('reports a shard as idle once it has caught up and stayed empty', async () => {
    const stream = await kinesis.newStream(1);
    const source = kinesisSource({ stream, endpoint: kinesis.endpoint, idleMs: 1, pollMs: 200 });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, undefined);
    expect(reader.isIdle?.()).toBe(false);
    await reader.next();
    expect(reader.isIdle?.()).toBe(true);
    await reader.close();

    const busy = kinesisSource({ stream, endpoint: kinesis.endpoint, idleMs: 3_600_000 });
    await putRecords(kinesis.client, stream, [{ text: 'x' }]);
    const busyReader = await busy.openSplit(split!, undefined);
    await readRecords(busyReader, 1);
    expect(busyReader.isIdle?.()).toBe(false);
    await busyReader.close();
  });

  it('fails with a clear message when the stream does not exist', async () => {
    const source = kinesisSource({ stream: 'no-such-stream', bounded: true, endpoint: kinesis.endpoint });
    const failure = await source.discoverSplits().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'SOURCE_FAILED' });
    expect((failure as Error).message).toContain('Kinesis stream "no-such-stream" was not found');
  });
});

describe('kinesis URIs', () => {
  it('parses a stream name and an optional start position', () => {
    expect(parseKinesisUri('kinesis:trades')).toEqual({ stream: 'trades' });
    expect(parseKinesisUri('kinesis://trades.v2?start=latest')).toEqual({ stream: 'trades.v2', start: 'LATEST' });
    expect(parseKinesisUri('kinesis:t?start=TRIM_HORIZON')).toEqual({ stream: 't', start: 'TRIM_HORIZON' });
    expect(parseKinesisUri('kinesis:t?start=2024-05-01T00:00:00Z')).toEqual({
      stream: 't',
      start: { timestamp: new Date('2024-05-01T00:00:00Z') },
    });
    expect(parseKinesisUri('kinesis:t?start=1714521600000')).toEqual({ stream: 't', start: { timestamp: new Date(1714521600000) } });
  });

  it('rejects malformed URIs with a one-line message', () => {
    expect(() => parseKinesisUri('file:/x')).toThrow(/not a Kinesis URI/);
    expect(() => parseKinesisUri('kinesis:bad name')).toThrow(/not a Kinesis stream name/);
    expect(() => parseKinesisUri('kinesis:t?start=yesterday')).toThrow(/is not TRIM_HORIZON, LATEST/);
    expect(() => parseKinesisUri('kinesis:t?shards=2')).toThrow(/Unknown option "shards"/);
  });
});
