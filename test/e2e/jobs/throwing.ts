// A job whose user code throws on chosen records: in the decode pool ("parse") or in a subtask ("price").

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
    .sinkTo('orders', jsonlSink('orders'));
});
