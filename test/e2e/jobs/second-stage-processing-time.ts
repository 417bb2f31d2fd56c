// Processing-time timers in the first keyed stage, feeding a second stage (§35): every record sets a timer
// COATTAIL_E2E_TIMER_MS ahead whose row crosses a second keyBy into a counting sink. The first stage's sink of
// subtask 0 takes COATTAIL_E2E_FINISH_MS to finish, so the other subtasks wait, finished with their first stage,
// while their timers come due.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineJob, type KeyedProcessFunction, type SinkFactory } from 'coattail';

const TIMER_MS = Number(process.env.COATTAIL_E2E_TIMER_MS ?? 300);
const FINISH_MS = Number(process.env.COATTAIL_E2E_FINISH_MS ?? 1_500);

interface Fired {
  readonly key: string;
  readonly at: number;
}

/** Rows as JSON Lines in `<out>/<name>/part-<subtask>.jsonl`, each line marked with whether the sink had finished. */
function markingSink(name: string, finishMs: number): SinkFactory<unknown> {
  return {
    name,
    create(context) {
      const dir = join(context.outDir, name);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `part-${context.subtaskIndex}.jsonl`);
      let finished = false;
      return {
        write(batch) {
          appendFileSync(file, batch.map((row) => `${JSON.stringify({ row, afterFinish: finished })}\n`).join(''));
        },
        prepareCommit: async () => null,
        commit: async () => undefined,
        async finish() {
          if (context.subtaskIndex === 0) await new Promise((resolve) => setTimeout(resolve, finishMs));
          finished = true;
          return 0;
        },
        abort: async () => undefined,
      };
    },
  };
}

const timers: KeyedProcessFunction<{ id: string }, Fired> = {
  processElement(_order, context) {
    context.timerService.registerProcessingTimeTimer(context.timerService.currentProcessingTime() + TIMER_MS);
  },
  onTimer(timestamp, context, out) {
    out.collect({ key: context.key, at: timestamp });
  },
};

export default defineJob('e2e-second-stage-processing-time', (env) => {
  const fired = env
    .source('lines')
    .map('parse', (raw) => JSON.parse(raw.text) as { id: string })
    .keyBy('by-id', (order) => order.id)
    .process<Fired>('timers', timers);
  fired.sinkTo('first', markingSink('first', FINISH_MS));
  fired
    .keyBy('by-key', (row) => row.key.slice(-1))
    .process<Fired>('pass', {
      processElement(row, _context, out) {
        out.collect(row);
      },
    })
    .sinkTo('second', markingSink('second', 0));
});
