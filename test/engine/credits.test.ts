// Credit-based flow control: at most `capacity` batches in flight, waiters served in order, close wakes them.
import { describe, expect, it } from 'vitest';

import { CreditGate } from '../../runtime/transport/credits.js';

async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('credit gate', () => {
  it('hands out exactly its capacity without waiting', async () => {
    const gate = new CreditGate(3);
    for (let i = 0; i < 3; i++) expect(gate.acquire()).toBeUndefined();
    expect(gate.inFlight).toBe(3);
    const fourth = gate.acquire();
    expect(fourth).toBeInstanceOf(Promise);
  });

  it('makes a sender without credit wait until a credit is returned', async () => {
    const gate = new CreditGate(1);
    gate.acquire();
    let granted = false;
    void (gate.acquire() as Promise<void>).then(() => (granted = true));
    await settled();
    expect(granted).toBe(false);
    gate.release();
    await settled();
    expect(granted).toBe(true);
    expect(gate.inFlight).toBe(1);
  });

  it('serves waiting senders in the order they asked', async () => {
    const gate = new CreditGate(1);
    gate.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => (gate.acquire() as Promise<void>).then(() => order.push(n)));
    gate.release();
    gate.release();
    gate.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    expect(gate.inFlight).toBe(1);
  });

  it('gives a returned credit back to the pool when nobody waits', () => {
    const gate = new CreditGate(2);
    gate.acquire();
    gate.acquire();
    gate.release();
    expect(gate.inFlight).toBe(1);
    expect(gate.acquire()).toBeUndefined();
  });

  it('throws when more credits come back than were taken', () => {
    const gate = new CreditGate(2);
    gate.acquire();
    gate.release();
    expect(() => gate.release()).toThrow('credit returned that was never taken');
  });

  it('wakes every waiter with the error when closed, and refuses new senders', async () => {
    const gate = new CreditGate(1);
    gate.acquire();
    const waits = [gate.acquire(), gate.acquire()] as Promise<void>[];
    const failure = new Error('subtask 0 is gone');
    gate.close(failure);
    for (const wait of waits) await expect(wait).rejects.toBe(failure);
    expect(() => gate.acquire()).toThrow('subtask 0 is gone');
  });
});
