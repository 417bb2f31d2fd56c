// Benchmark job: parse every line and hand each trade to a counting sink in the subtasks (no keys, no windows):
// the engine's fixed cost per record.

import { defineJob } from 'coattail';
import { countingSink } from './counting-sink.js';
import { parseTrade, type ParsedTrade } from './trade-parse.js';

export default defineJob('bench-parse-only', (env) => {
  env.source('lines').process<ParsedTrade>('parse', parseTrade).sinkTo('trades', countingSink('trades'));
});
