// Shared by the user-job tests: the event shape and a parse step with a typed side output for bad lines.
import { OutputTag, type Collector, type ProcessContext, type RawRecord } from 'coattail';

export interface Event {
  readonly id: string;
  readonly user: string;
  readonly kind: 'view' | 'buy';
  readonly amount: number;
  readonly t: number;
}

export interface BadLine {
  readonly raw: string;
  readonly reason: string;
}

export const BAD = new OutputTag<BadLine>('bad-lines');

export function parseEvent(raw: RawRecord, context: ProcessContext, out: Collector<Event>): void {
  let value: Partial<Event>;
  try {
    value = JSON.parse(raw.text) as Partial<Event>;
  } catch {
    context.output(BAD, { raw: raw.text, reason: 'not json' });
    return;
  }
  if (typeof value.id !== 'string' || typeof value.user !== 'string' || typeof value.t !== 'number' || (value.kind !== 'view' && value.kind !== 'buy')) {
    context.output(BAD, { raw: raw.text, reason: 'missing fields' });
    return;
  }
  out.collect(value as Event);
}
