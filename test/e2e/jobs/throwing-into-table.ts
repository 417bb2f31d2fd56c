// The throwing job (throwing.ts) with a table sink: what a failed run leaves in the table folder.

import { defineJob, tableSink } from 'coattail';
import { parseOrder, priceOrder, type Order } from './orders.js';

export default defineJob('e2e-throwing-into-table', (env) => {
  env
    .source('lines')
    .map('parse', parseOrder)
    .keyBy('by-id', (order) => order.id)
    .process<Order>('price', priceOrder)
    .map('row', (order) => ({ id: order.id }))
    // Every batch is written at once, so each subtask has a part in progress when the record comes.
    .sinkTo('orders', tableSink({ name: 'orders', columns: [{ name: 'id', type: 'string' }] }, { jsonl: { flushBytes: 1 } }));
});
