// A job whose prepare step returns something that cannot be sent to worker threads (a function).

import { defineJob } from 'coattail';

export default defineJob('e2e-prepared-function', {
  prepare: () => ({ scale: (value: number) => value * 2 }),
  build: (env) => {
    env.source('lines').map('noop', (raw) => raw.text);
  },
});
