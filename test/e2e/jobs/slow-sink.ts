// A job whose sink is far slower than its source: backpressure must keep the data in flight bounded.

import { BroadcastChannel } from 'node:worker_threads';
import { defineJob } from 'coattail';
import { PROGRESS_CHANNEL, slowSink } from './test-sinks.js';

/** How long the sink sleeps per batch (a batch is about one 1 MiB chunk of input). */
const SLEEP_MS = Number(process.env.COATTAIL_E2E_SINK_SLEEP_MS ?? 50);

export default defineJob('e2e-slow-sink', (env) => {
  let progress: BroadcastChannel | undefined;
  let parsed = 0;
  env
    .source('lines')
    .process<{ offset: number }>('parse', {
      open() {
        // Runs in the decode threads only: report how far parsing has got.
        progress = new BroadcastChannel(PROGRESS_CHANNEL);
        progress.unref();
      },
      processElement(raw, _context, out) {
        JSON.parse(raw.text); // the work a real parse step does
        if (++parsed % 64 === 0) progress!.postMessage(raw.offset);
        out.collect({ offset: Number(raw.offset) });
      },
    })
    .sinkTo('slow', slowSink('slow', SLEEP_MS));
});
