// A sink printing one line per record, each batch written at once; not transactional (lines may repeat after a restore).
import { once } from 'node:events';

import type { PendingCommit, SinkFactory, SinkWriter } from '../../runtime/api/sink.js';
import { CoattailError } from '../../runtime/errors.js';

/** `output` exists for tests and embedding; runs print to the process's standard output. */
export function stdoutSink<T>(
  name: string,
  format: (row: T) => string = (row) => JSON.stringify(row),
  output: NodeJS.WritableStream = process.stdout,
): SinkFactory<T> {
  return {
    name,
    create(): SinkWriter<T> {
      let rows = 0;
      let finished = false;
      return {
        async write(records) {
          if (finished) throw new CoattailError('SINK_FAILED', `The ${name} sink received records after it finished`);
          if (records.length === 0) return;
          let text = '';
          for (let index = 0; index < records.length; index++) text += `${format(records[index]!)}\n`;
          rows += records.length;
          // Waiting for drain keeps memory bounded when whoever reads the output is slower than the job.
          if (!output.write(text)) await once(output, 'drain');
        },
        async prepareCommit(): Promise<PendingCommit> {
          return null;
        },
        async commit() {},
        async finish() {
          finished = true;
          return rows;
        },
        async abort() {
          finished = true;
        },
      };
    },
  };
}
