// A job whose user code throws on a chosen record ("parse" in the decode stage, "price" in a subtask) while its
// table sink holds parts in progress: what a failed run leaves in the table folder.

import { defineJob, tableSink } from 'coattail';

interface Order {
  readonly id: string;
  readonly explode?: 'parse' | 'price';
}

export default defineJob('e2e-throwing-into-table', (env) => {
  env
    .source('lines')
    .map('parse', (raw) => {
      const order = JSON.parse(raw.text) as Order;
      if (order.explode === 'parse') throw new Error(`cannot parse order ${order.id}`);
      return order;
    })
    .keyBy('by-id', (order) => order.id)
    .process<{ id: string }>('price', {
      processElement(order, _context, out) {
        if (order.explode === 'price') throw new Error(`cannot price order ${order.id}`);
        out.collect({ id: order.id });
      },
    })
    // Every batch is written at once, so each subtask has a part in progress when the record comes.
    .sinkTo('orders', tableSink({ name: 'orders', columns: [{ name: 'id', type: 'string' }] }, { jsonl: { flushBytes: 1 } }));
});
