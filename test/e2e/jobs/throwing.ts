// A job whose user code throws on chosen records: in the decode pool ("parse") or in a subtask ("price").
// COATTAIL_E2E_PRECOMMIT_MS makes its sink slow to prepare a checkpoint, so one is in progress when the record comes.

import { defineJob } from 'coattail';
import { jsonlSink } from './test-sinks.js';

interface Order {
  readonly id: string;
  readonly explode?: 'parse' | 'price';
}

export default defineJob('e2e-throwing', (env) => {
  env
    .source('lines')
    .map('parse', (raw) => {
      const order = JSON.parse(raw.text) as Order;
      if (order.explode === 'parse') throw new Error(`cannot parse order ${order.id}`);
      return order;
    })
    .keyBy('by-id', (order) => order.id)
    .process<Order>('price', {
      processElement(order, _context, out) {
        if (order.explode === 'price') throw new Error(`cannot price order ${order.id}`);
        out.collect(order);
      },
    })
    .sinkTo('orders', jsonlSink('orders', Number(process.env.COATTAIL_E2E_PRECOMMIT_MS ?? 0)));
});
