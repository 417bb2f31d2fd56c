// The job's own build code throws (say, a missing setting) before any step exists.
import { defineJob } from 'coattail';

export default defineJob('misuse-build-throws', () => {
  throw new Error('THRESHOLD is not set');
});
