// Counts per key in 1 s windows, each row announced on a BroadcastChannel as the sink receives it, so a test sees
// when a window fires during a run, not only once the run has ended.
import { BroadcastChannel } from 'node:worker_threads';
import { defineJob, tumbling, type SinkFactory } from 'coattail';

export const FIRED_CHANNEL = 'coattail-e2e-fired-windows';

export interface Tick {
  readonly key: string;
  readonly t: number;
}

export interface FiredWindow {
  readonly key: string;
  readonly start: number;
  readonly count: number;
}

const announcing: SinkFactory<FiredWindow> = {
  name: 'fired',
  create: () => {
    const channel = new BroadcastChannel(FIRED_CHANNEL);
    channel.unref();
    return {
      write: (rows) => {
        for (const row of rows) channel.postMessage(row);
      },
      prepareCommit: async () => null,
      commit: async () => undefined,
      finish: async () => 0,
      abort: async () => undefined,
    };
  },
};

export default defineJob('announced-windows', (env) => {
  env
    .source('ticks')
    .map('parse', (raw) => JSON.parse(raw.text) as Tick)
    .withWatermarks('time', { timestamp: (tick) => tick.t })
    .keyBy('by-key', (tick) => tick.key)
    .window(tumbling('1s'))
    .aggregate<number, number, FiredWindow>(
      'count',
      { createAccumulator: () => 0, add: (_tick: Tick, count: number) => count + 1, getResult: (count: number) => count },
      {
        process(key, count, context, out) {
          out.collect({ key, start: context.window.start, count });
        },
      },
    )
    .sinkTo('fired', announcing);
});
