// The parse-only baseline: one thread reads a JSONL file in 1 MiB chunks, as the engine's file source does,
// and JSON.parses every line. Prints `{"lines":N,"ms":T,"checksum":C}`.

import { closeSync, openSync, readSync } from 'node:fs';
import { isAscii } from 'node:buffer';

/** `checksum` sums the prices, so the parsed objects are observably used. */
export function parseFile(path: string): { lines: number; ms: number; checksum: number } {
  const started = performance.now();
  const fd = openSync(path, 'r');
  let carry = Buffer.alloc(0);
  let lines = 0;
  let checksum = 0;
  const parseText = (bytes: Buffer) => {
    // Same decoding choice as the engine: one latin1 decode when the chunk is ASCII.
    const text = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
    let position = 0;
    while (position < text.length) {
      let newline = text.indexOf('\n', position);
      if (newline < 0) newline = text.length;
      if (newline > position) {
        const value = JSON.parse(text.slice(position, newline)) as { price?: number };
        checksum += value.price ?? 0; // keep the parsed object observable
        lines++;
      }
      position = newline + 1;
    }
  };
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(1 << 20);
      const bytesRead = readSync(fd, chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const joined = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      // Cut at the last newline so a multi-byte character never straddles two decodes.
      const lastNewline = joined.lastIndexOf(10);
      if (lastNewline < 0) {
        carry = joined;
        continue;
      }
      parseText(joined.subarray(0, lastNewline + 1));
      carry = Buffer.from(joined.subarray(lastNewline + 1));
    }
    if (carry.length > 0) parseText(carry);
  } finally {
    closeSync(fd);
  }
  return { lines, ms: performance.now() - started, checksum };
}

const file = process.argv[2];
if (process.argv[1]?.endsWith('parse-baseline.js') && file) {
  process.stdout.write(JSON.stringify(parseFile(file)) + '\n');
}
