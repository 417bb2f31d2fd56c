// The file source: chunks of whole lines with byte offsets, long lines, gzip, folders, resuming from an offset.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { fileSource } from '../../connectors/sources/file-source.js';
import type { Source, SourceChunk, SplitPosition } from '../../runtime/api/source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coattail-file-source-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(source: Source, split = 0, from?: SplitPosition): Promise<SourceChunk[]> {
  const splits = await source.discoverSplits();
  const reader = await source.openSplit(splits[split]!, from);
  const chunks: SourceChunk[] = [];
  try {
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) chunks.push(chunk);
  } finally {
    await reader.close();
  }
  return chunks;
}

function bytesOf(chunk: SourceChunk): Buffer {
  if (chunk.payload.kind !== 'lines') throw new Error('expected lines');
  return Buffer.from(chunk.payload.bytes);
}

/** Checks that chunks tile the text from `start`: contiguous offsets, whole lines, nothing lost. */
function expectTiling(chunks: SourceChunk[], text: Buffer, start = 0): void {
  let offset = start;
  for (const [i, chunk] of chunks.entries()) {
    if (chunk.payload.kind !== 'lines') throw new Error('expected lines');
    expect(chunk.payload.firstOffset).toBe(offset);
    const bytes = bytesOf(chunk);
    const last = i === chunks.length - 1;
    if (!last || text[text.length - 1] === 0x0a) expect(bytes[bytes.length - 1]).toBe(0x0a);
    offset += bytes.length;
    expect(chunk.endPosition).toBe(offset);
  }
  expect(Buffer.concat(chunks.map(bytesOf)).equals(text.subarray(start))).toBe(true);
}

const LINES = Array.from({ length: 40 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(i % 7) }));

describe('file source', () => {
  it('cuts a file into chunks that end on a newline and tile the file exactly', async () => {
    const text = Buffer.from(LINES.join('\n') + '\n');
    await writeFile(join(dir, 'a.jsonl'), text);
    const chunks = await readAll(fileSource(join(dir, 'a.jsonl'), { chunkBytes: 50 }));
    expect(chunks.length).toBeGreaterThan(5);
    expectTiling(chunks, text);
  });

  it('delivers a line longer than a chunk whole', async () => {
    const long = JSON.stringify({ pad: 'y'.repeat(1_000) });
    const text = Buffer.from(`short\n${long}\nafter\n`);
    await writeFile(join(dir, 'long.jsonl'), text);
    const chunks = await readAll(fileSource(join(dir, 'long.jsonl'), { chunkBytes: 16 }));
    expectTiling(chunks, text);
    const lines = Buffer.concat(chunks.map(bytesOf)).toString().split('\n');
    expect(lines).toContain(long);
    expect(chunks.some((chunk) => bytesOf(chunk).toString().includes(long))).toBe(true);
  });

  it('delivers lines of many chunks whole, plain and gzip, the last one without a newline', async () => {
    // Lines of hundreds of chunks, back to back and between short ones: the carried partial line is joined once.
    const lines = ['a', 'b'.repeat(5_000), 'c'.repeat(7_777), 'd', 'e'.repeat(3_000)];
    const text = Buffer.from(lines.join('\n'));
    await writeFile(join(dir, 'longer.jsonl'), text);
    await writeFile(join(dir, 'longer.jsonl.gz'), gzipSync(text));
    for (const file of ['longer.jsonl', 'longer.jsonl.gz']) {
      const chunks = await readAll(fileSource(join(dir, file), { chunkBytes: 16 }));
      expectTiling(chunks, text);
      const delivered = chunks.flatMap((chunk) => bytesOf(chunk).toString().split('\n').filter((line) => line !== ''));
      expect(delivered, file).toEqual(lines);
    }
  });

  it('reads the last line of a file that lacks a trailing newline', async () => {
    const text = Buffer.from('one\ntwo');
    await writeFile(join(dir, 'tail.jsonl'), text);
    const chunks = await readAll(fileSource(join(dir, 'tail.jsonl'), { chunkBytes: 3 }));
    expectTiling(chunks, text);
    expect(bytesOf(chunks[chunks.length - 1]!).toString()).toBe('two');
  });

  it('reads an empty file as no chunks', async () => {
    await writeFile(join(dir, 'empty.jsonl'), '');
    expect(await readAll(fileSource(join(dir, 'empty.jsonl')))).toEqual([]);
  });

  it('reads gzip files with offsets counted in uncompressed bytes', async () => {
    const text = Buffer.from(LINES.join('\n') + '\n');
    await writeFile(join(dir, 'z.jsonl.gz'), gzipSync(text));
    const chunks = await readAll(fileSource(join(dir, 'z.jsonl.gz'), { chunkBytes: 64 }));
    expectTiling(chunks, text);
  });

  it('resumes a plain file from a saved offset', async () => {
    const text = Buffer.from(LINES.join('\n') + '\n');
    await writeFile(join(dir, 'r.jsonl'), text);
    const source = fileSource(join(dir, 'r.jsonl'), { chunkBytes: 40 });
    const first = await readAll(source);
    const resumeAt = first[2]!.endPosition as number;
    const resumed = await readAll(source, 0, resumeAt);
    expectTiling(resumed, text, resumeAt);
  });

  it('resumes a gzip file from a saved offset', async () => {
    const text = Buffer.from(LINES.join('\n') + '\n');
    await writeFile(join(dir, 'r.jsonl.gz'), gzipSync(text));
    const source = fileSource(join(dir, 'r.jsonl.gz'), { chunkBytes: 64 });
    const first = await readAll(source);
    const resumeAt = first[3]!.endPosition as number;
    expectTiling(await readAll(source, 0, resumeAt), text, resumeAt);
  });

  it('refuses to resume a file that now ends before the saved offset (truncated or replaced since the checkpoint)', async () => {
    const text = Buffer.from(LINES.join('\n') + '\n');
    await writeFile(join(dir, 'r.jsonl'), text);
    await writeFile(join(dir, 'r.jsonl.gz'), gzipSync(text));
    const resumeAt = text.length - 10;
    await writeFile(join(dir, 'r.jsonl'), text.subarray(0, 20));
    await writeFile(join(dir, 'r.jsonl.gz'), gzipSync(text.subarray(0, 20)));
    const message = new RegExp(`has 20 bytes, fewer than the ${resumeAt} the checkpoint had already read: it was truncated or replaced`);
    await expect(readAll(fileSource(join(dir, 'r.jsonl')), 0, resumeAt)).rejects.toThrow(message);
    await expect(readAll(fileSource(join(dir, 'r.jsonl.gz'), { chunkBytes: 64 }), 0, resumeAt)).rejects.toThrow(message);
    // Resuming exactly at the end (the checkpoint had read everything) is not a change.
    expect(await readAll(fileSource(join(dir, 'r.jsonl')), 0, 20)).toEqual([]);
  });

  it('makes one split per input file of a folder, in name order, ignoring other files', async () => {
    await writeFile(join(dir, 'b.jsonl'), 'b\n');
    await writeFile(join(dir, 'a.ndjson'), 'a\n');
    await writeFile(join(dir, 'c.jsonl.gz'), gzipSync('c\n'));
    await writeFile(join(dir, 'notes.txt'), 'ignored\n');
    const source = fileSource(dir);
    expect(source.bounded).toBe(true);
    const splits = await source.discoverSplits();
    expect(splits.map((s) => s.splitId)).toEqual(['a.ndjson', 'b.jsonl', 'c.jsonl.gz']);
    expect(splits[1]!.origin).toBe(`file:${join(dir, 'b.jsonl')}`);
    expect(bytesOf((await readAll(source, 2))[0]!).toString()).toBe('c\n');
  });

  it('says which file is missing', () => {
    expect(() => fileSource(join(dir, 'nope.jsonl'))).toThrow(`input file not found: ${join(dir, 'nope.jsonl')}`);
  });

  it('reports a corrupt gzip file as a source failure naming the file', async () => {
    const file = join(dir, 'bad.jsonl.gz');
    await writeFile(file, Buffer.concat([gzipSync('a\n'.repeat(100)).subarray(0, 20), Buffer.from('garbage')]));
    await expect(readAll(fileSource(file))).rejects.toThrow(`cannot decompress input ${file}: `);
  });

  it('skips files of a folder whose names start with "." or "_", as Flink and Spark do (a _summary.json, hidden files)', async () => {
    await writeFile(join(dir, 'a.jsonl'), 'a\n');
    await writeFile(join(dir, '.hidden.jsonl'), 'hidden\n');
    await writeFile(join(dir, '_summary.json'), '{}\n');
    const splits = await fileSource(dir).discoverSplits();
    expect(splits.map((s) => s.splitId)).toEqual(['a.jsonl']);
  });

  it('reads a file starting with "." or "_" when it is named itself', async () => {
    await writeFile(join(dir, '_only.jsonl'), 'x\n');
    expect(bytesOf((await readAll(fileSource(join(dir, '_only.jsonl'))))[0]!).toString()).toBe('x\n');
  });

  it('skips a subfolder of a folder even when its name looks like an input file', async () => {
    await writeFile(join(dir, 'a.jsonl'), 'a\n');
    await mkdir(join(dir, 'nested.jsonl'));
    const splits = await fileSource(dir).discoverSplits();
    expect(splits.map((s) => s.splitId)).toEqual(['a.jsonl']);
  });

  it('reads a named pipe, which cannot seek, from its start', async () => {
    const fifo = join(dir, 'pipe.jsonl');
    execFileSync('mkfifo', [fifo]);
    const text = Buffer.from(LINES.join('\n') + '\n');
    const writing = writeFile(fifo, text);
    const chunks = await readAll(fileSource(fifo, { chunkBytes: 64 }));
    await writing;
    expectTiling(chunks, text);
  });

  it('closes the file of a gzip split closed before its end (a stop or a failure while reading)', async () => {
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const file = join(dir, 'big.jsonl.gz');
    await writeFile(file, gzipSync(Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(50) })).join('\n') + '\n', { level: 1 }));
    const source = fileSource(file, { chunkBytes: 4096 });
    const before = openFiles();
    const reader = await source.openSplit((await source.discoverSplits())[0]!, undefined);
    expect(await reader.next()).toBeDefined();
    await reader.close();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the stream closes its file on a later tick
    expect(openFiles()).toBe(before);
  });
});
