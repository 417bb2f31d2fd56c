// What the throwing test jobs share: orders that make user code throw on purpose, in the decode stage or a subtask.

import type { KeyedProcessFunction, RawRecord } from 'coattail';

export interface Order {
  readonly id: string;
  readonly explode?: 'parse' | 'price';
}

/** A stateless step (decode stage): throws on an order marked `explode: 'parse'`. */
export function parseOrder(raw: RawRecord): Order {
  const order = JSON.parse(raw.text) as Order;
  if (order.explode === 'parse') throw new Error(`cannot parse order ${order.id}`);
  return order;
}

/** A keyed step (subtask): throws on an order marked `explode: 'price'`, passes the others on. */
export const priceOrder: KeyedProcessFunction<Order, Order> = {
  processElement(order, _context, out) {
    if (order.explode === 'price') throw new Error(`cannot price order ${order.id}`);
    out.collect(order);
  },
};
