// The public test harnesses: one step fed by hand (OperatorTestHarness) or a whole job (JobTestHarness).

export { OperatorTestHarness, type OperatorHarnessOptions } from './operator-harness.js';
export { JobTestHarness, type JobHarnessOptions, type JobSnapshot } from './job-harness.js';
export { withProcessingTime, type SubtaskPlacement, type TimestampedValue } from './harness-support.js';
export type { OperatorSnapshot } from '../exec/stream-operator.js';
