// A second stage far slower than the first: a keyed process (fanning each record out COATTAIL_E2E_FANOUT times)
// shuffles by another key into a slow sink. Backpressure must reach the source through the shuffle (§35).

import { BroadcastChannel } from 'node:worker_threads';
import { defineJob } from 'coattail';
import { PROGRESS_CHANNEL, slowSink } from './test-sinks.js';

const SLEEP_MS = Number(process.env.COATTAIL_E2E_SINK_SLEEP_MS ?? 50);
const FANOUT = Number(process.env.COATTAIL_E2E_FANOUT ?? 1);

export default defineJob('e2e-second-stage-slow', (env) => {
  let progress: BroadcastChannel | undefined;
  let parsed = 0;
  env
    .source('lines')
    .process<{ offset: number; n: number }>('parse', {
      open() {
        progress = new BroadcastChannel(PROGRESS_CHANNEL);
        progress.unref();
      },
      processElement(raw, _context, out) {
        const { n } = JSON.parse(raw.text) as { n: number };
        if (++parsed % 64 === 0) progress!.postMessage(raw.offset);
        out.collect({ offset: Number(raw.offset), n });
      },
    })
    .keyBy('by-n', (row) => String(row.n % 50))
    .process<{ offset: number; n: number }>('pass', {
      processElement(row, _context, out) {
        out.collect(row);
      },
    })
    .flatMap<{ offset: number; n: number }>('fan-out', (row, out) => {
      for (let copy = 0; copy < FANOUT; copy++) out.collect({ offset: row.offset, n: row.n * FANOUT + copy });
    })
    .keyBy('by-copy', (row) => String(row.n % 7))
    .process<{ offset: number; n: number }>('copies', {
      processElement(row, _context, out) {
        out.collect(row);
      },
    })
    .sinkTo('slow', slowSink('slow', SLEEP_MS));
});
