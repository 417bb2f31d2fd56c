// A user's job importing an npm package it did not install next to itself (zod, a dependency of coattail).
import { z } from 'zod';
import { OutputTag, defineJob, tableSink } from 'coattail';

const EventSchema = z.object({ id: z.string(), user: z.string().min(1), kind: z.enum(['view', 'buy']), amount: z.number().nonnegative(), t: z.number() });
type Event = z.infer<typeof EventSchema>;
const INVALID = new OutputTag<{ issue: string }>('invalid');

export default defineJob('user-zod', (env) => {
  const events = env.source('raw').process<Event>('validate', (raw, context, out) => {
    let json: unknown;
    try {
      json = JSON.parse(raw.text);
    } catch {
      context.output(INVALID, { issue: 'json' });
      return;
    }
    const parsed = EventSchema.safeParse(json);
    if (parsed.success) out.collect(parsed.data);
    else context.output(INVALID, { issue: parsed.error.issues[0]!.path.join('.') });
  });
  events.getSideOutput(INVALID).sinkTo('invalid-sink', tableSink({ name: 'invalid', columns: [{ name: 'issue', type: 'string' }] }));
  events.map('valid-row', (event) => ({ id: event.id })).sinkTo('valid-sink', tableSink({ name: 'valid', columns: [{ name: 'id', type: 'string' }] }));
});
