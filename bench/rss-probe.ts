// Loaded with `node --import` into a benchmarked process: at exit, the main thread writes its peak RSS (VmHWM,
// shared by all worker threads) to the file named by COATTAIL_BENCH_RSS_FILE.

import { readFileSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const target = process.env.COATTAIL_BENCH_RSS_FILE;
if (isMainThread && target) {
  process.on('exit', () => {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) writeFileSync(target, String(Number(match[1]) * 1024));
  });
}
