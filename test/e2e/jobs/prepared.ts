// A job with a prepare step: it reads its "config" (a number in the file given with -c) once, on the
// coordinator, notes each call in `<config>.calls`, and every thread's graph multiplies by that number.

import { appendFileSync, readFileSync } from 'node:fs';
import { defineJob } from 'coattail';
import { jsonlSink } from './test-sinks.js';

interface Prepared {
  readonly factor: number;
}

export default defineJob('e2e-prepared', {
  prepare: (context): Prepared => {
    const path = context.configPath!;
    appendFileSync(`${path}.calls`, 'prepare\n');
    return { factor: Number(readFileSync(path, 'utf8')) };
  },
  build: (env, _context, prepared) => {
    env
      .source('lines')
      .map('scale', (raw) => ({ value: Number(raw.text) * prepared.factor }))
      .keyBy('by-value', (row) => String(row.value))
      .process<{ value: number }>('pass', {
        processElement(row, _context, out) {
          out.collect(row);
        },
      })
      .sinkTo('scaled', jsonlSink('scaled'));
  },
});
