// A sink of the user's own whose write throws once it has seen 500 rows.
import { defineJob, type SinkFactory } from 'coattail';

const failing: SinkFactory<string> = {
  name: 'failing',
  create() {
    let rows = 0;
    return {
      write(batch) {
        rows += batch.length;
        if (rows > 500) throw new Error('disk full');
      },
      prepareCommit: async () => null,
      commit: async () => undefined,
      finish: async () => rows,
      abort: async () => undefined,
    };
  },
};

export default defineJob('misuse-sink-throws', (env) => {
  env.source('raw').map('text', (raw) => raw.text).sinkTo('failing-sink', failing);
});
