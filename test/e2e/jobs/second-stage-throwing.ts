// User code that fails in the second stage (after a second keyBy, §35) on the order marked `explode`: the second
// key selector ('selector', or 'not-a-string' returning a number), the keyed process ('total') or the sink ('sink').

import { defineJob, type SinkFactory } from 'coattail';
import { parseOrder, type Order } from './orders.js';

type Explosion = 'selector' | 'not-a-string' | 'total' | 'sink';
interface Marked extends Omit<Order, 'explode'> {
  readonly explode?: Explosion;
}

function explodingSink(): SinkFactory<Marked> {
  return {
    name: 'explodes',
    create: () => ({
      write(batch) {
        const bad = batch.find((order) => order.explode === 'sink');
        if (bad) throw new Error(`cannot write order ${bad.id}`);
      },
      prepareCommit: async () => null,
      commit: async () => undefined,
      finish: async () => 0,
      abort: async () => undefined,
    }),
  };
}

export default defineJob('e2e-second-stage-throwing', (env) => {
  env
    .source('lines')
    .map('parse', (raw) => parseOrder(raw) as Marked)
    .keyBy('by-id', (order) => order.id)
    .process<Marked>('pass', {
      processElement(order, _context, out) {
        out.collect(order);
      },
    })
    .keyBy('by-group', (order) => {
      if (order.explode === 'selector') throw new Error(`cannot group order ${order.id}`);
      return (order.explode === 'not-a-string' ? order.id.length : order.id.slice(-1)) as string;
    })
    .process<Marked>('total', {
      processElement(order, _context, out) {
        if (order.explode === 'total') throw new Error(`cannot total order ${order.id}`);
        out.collect(order);
      },
    })
    .sinkTo('explodes', explodingSink());
});
