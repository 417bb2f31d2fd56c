// A job whose user code throws on chosen records: in the decode pool ("parse") or in a subtask ("price").
// COATTAIL_E2E_PRECOMMIT_MS makes its sink slow to prepare a checkpoint, so one is in progress when the record comes.

import { defineJob } from 'coattail';
import { parseOrder, priceOrder, type Order } from './orders.js';
import { jsonlSink } from './test-sinks.js';

export default defineJob('e2e-throwing', (env) => {
  env
    .source('lines')
    .map('parse', parseOrder)
    .keyBy('by-id', (order) => order.id)
    .process<Order>('price', priceOrder)
    .sinkTo('orders', jsonlSink('orders', Number(process.env.COATTAIL_E2E_PRECOMMIT_MS ?? 0)));
});
